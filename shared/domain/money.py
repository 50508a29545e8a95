"""Money is Decimal, serialised as a two-decimal string."""

from decimal import Decimal

CENT = Decimal("0.01")


def yuan(value: Decimal | int | None) -> str:
    """`Decimal('20')` → `"20.00"`; None → `"0.00"`."""
    return str((Decimal(value) if value is not None else Decimal(0)).quantize(CENT))
