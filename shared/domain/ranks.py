"""Competition ranking (rules.md, "Ranking"), shared by reporting's rankings and scoring's what-if."""

from typing import Any


def competition_ranks(
    rows: list[dict[str, Any]], key: str, id_field: str, rank_field: str = "rank"
) -> list[dict[str, Any]]:
    """Highest `key` first; equal values share a rank and the next rank skips (1, 1, 3); ties by id."""
    rows.sort(key=lambda row: (-row[key], row[id_field]))  # str order is code-point order, as COLLATE "C"
    previous, rank = None, 0
    for index, row in enumerate(rows, start=1):
        if row[key] != previous:
            rank, previous = index, row[key]
        row[rank_field] = rank
    return rows
