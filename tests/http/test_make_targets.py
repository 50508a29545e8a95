"""`make test` on a machine with no PostgreSQL: tools.testrun starts an embedded one and cleans up."""

import os
import subprocess
import sys

from shared.settings import REPO_ROOT


def run_testrun(tmp_path, *pytest_args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAOHE_TEST_SERVER_URL")}
    env.update({"KAOHE_EMBEDDED": "1", "TMPDIR": str(tmp_path)})
    return subprocess.run(
        [sys.executable, "-m", "tools.testrun", "--", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_make_test_runs_on_an_embedded_server_and_removes_it(tmp_path):
    result = run_testrun(tmp_path, "tests/http/test_end_to_end.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:" in result.stderr
    assert "1 passed" in result.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kaohe-test-pg-")]


def test_pytests_exit_code_passes_through(tmp_path):
    result = run_testrun(tmp_path, "tests/http/test_end_to_end.py", "-k", "no_test_has_this_name")
    assert result.returncode == 5, result.stdout + result.stderr  # pytest: no tests collected


def test_the_makefile_keeps_its_targets():
    result = subprocess.run(
        ["make", "-n", "install", "run", "test", "faults", "migrate", "demo", "bench"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for command in (
        "-m tools.runner",
        "-m tools.testrun -- -q",
        "-m tools.testrun -- -q -m faults",
        "-m shared.migrate",
        "-m tools.cli demo",
        "-m bench.run",
    ):
        assert command in result.stdout
