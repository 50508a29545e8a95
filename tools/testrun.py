"""`make test`: find a PostgreSQL for the tests, then run pytest (its exit code is ours).

The server, in order: `DATABASE_URL` when set; the local server on 127.0.0.1:5432 when it answers;
else an embedded server in a temporary directory, removed afterwards, whose URL reaches
tests/support/database.py as `KAOHE_TEST_SERVER_URL`. `KAOHE_EMBEDDED=1` forces the embedded one.
Tests create and drop their own databases on whichever server this picks.

Usage: python -m tools.testrun [-- pytest args]
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from shared.settings import REPO_ROOT
from tools.devdb import EmbeddedPostgres


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def forced_embedded() -> bool:
    return os.environ.get("KAOHE_EMBEDDED", "").lower() in ("1", "true", "yes")


def pytest(args: list[str], env: dict[str, str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=REPO_ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    env = dict(os.environ)
    if not forced_embedded():
        if env.get("DATABASE_URL"):
            print("kaohe tests: using DATABASE_URL", file=sys.stderr)
            return pytest(args, env)
        if env.get("KAOHE_TEST_SERVER_URL"):
            print("kaohe tests: using KAOHE_TEST_SERVER_URL", file=sys.stderr)
            return pytest(args, env)
        if answers("127.0.0.1", 5432):
            print("kaohe tests: using the PostgreSQL on 127.0.0.1:5432", file=sys.stderr)
            return pytest(args, env)
    env.pop("DATABASE_URL", None)
    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="kaohe-test-pg-")) / "pg")
    try:
        server.start()
        env["KAOHE_TEST_SERVER_URL"] = server.url()
        print(f"kaohe tests: using an embedded PostgreSQL at {server.url()}", file=sys.stderr)
        return pytest(args, env)
    finally:
        server.destroy()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
