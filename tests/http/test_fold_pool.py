"""What-if and audit folds run in worker processes, bounded: a saturated pool answers 503 `busy`."""

import asyncio
import os
from pathlib import Path

import pytest

from services.scoring.fold_pool import FoldPool
from shared.problems import Problem


async def _wait_for_file(*, path: str) -> int:
    while not Path(path).exists():  # released by the test; no timing is asserted
        await asyncio.sleep(0.01)
    return os.getpid()


async def _refuse() -> None:
    raise Problem(422, "invalid_policy", "no", errors=[{"loc": ["body", "policy"], "msg": "no"}])


async def test_folds_run_in_another_process_and_a_saturated_pool_answers_busy(tmp_path):
    pool = FoldPool(1)
    release = tmp_path / "release"
    try:
        running = [asyncio.create_task(pool.run(_wait_for_file, path=str(release))) for _ in range(2)]
        await asyncio.sleep(0)  # both took a slot (one runs, one waits)
        with pytest.raises(Problem) as refused:
            await pool.run(_wait_for_file, path=str(release))
        assert refused.value.status == 503 and refused.value.code == "busy"
        assert refused.value.headers["Retry-After"]
        release.touch()
        pids = await asyncio.wait_for(asyncio.gather(*running), timeout=120)
        assert all(pid != os.getpid() for pid in pids)
        assert await pool.run(_wait_for_file, path=str(release)) != os.getpid()  # a slot is free again
    finally:
        pool.close()


async def test_a_problem_in_a_worker_comes_back_as_the_same_problem():
    pool = FoldPool(1)
    try:
        with pytest.raises(Problem) as refused:
            await pool.run(_refuse)
        assert (refused.value.status, refused.value.code) == (422, "invalid_policy")
        assert refused.value.errors == [{"loc": ["body", "policy"], "msg": "no"}]
    finally:
        pool.close()
