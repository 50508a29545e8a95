"""`make run`: migrate, then serve ingest, scoring and reporting until Ctrl-C or SIGTERM.

With no `DATABASE_URL` (or with `KAOHE_EMBEDDED=1`) it starts an embedded PostgreSQL with its data
under `$KAOHE_DATA_DIR/pg` (default `.data/pg`) and uses database `kaohe` there; `KAOHE_EMBEDDED=0`
uses `DATABASE_URL` or its default. The admin key is `KAOHE_BOOTSTRAP_ADMIN_KEY` when set, else
one generated on the first run and kept in `$KAOHE_DATA_DIR/admin-key` (mode 600).
"""

import asyncio
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from shared.auth import new_key
from shared.db import asyncpg_dsn
from shared.migrate import upgrade
from shared.observability import UVICORN_LOG_CONFIG
from shared.serving import uvicorn_flags
from shared.settings import REPO_ROOT, Settings, worker_count
from tools.devdb import EmbeddedPostgres
from tools.urls import bind_host, service_url
from tools.urls import port as service_port

SERVICES = (
    ("ingest", "services.ingest.app:app", 8001),
    ("scoring", "services.scoring.app:app", 8002),
    ("reporting", "services.reporting.app:app", 8003),
)
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0


class Stop(Exception):
    """SIGINT or SIGTERM arrived: shut everything down."""


def data_dir() -> Path:
    return Path(os.environ.get("KAOHE_DATA_DIR") or REPO_ROOT / ".data")


def use_embedded() -> bool:
    forced = os.environ.get("KAOHE_EMBEDDED", "").lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    return not os.environ.get("DATABASE_URL")


def service_urls() -> dict[str, str]:
    return {name: service_url(name) for name, _target, _default in SERVICES}


def hold_run_lock(directory: Path) -> int | None:
    """Take `run.lock` in the data directory for the runner's lifetime (the fd stays open; the
    kernel drops the lock when the process dies, however it dies). None when another runner holds it.

    Taken before anything else, so a second `make run` on the same data directory leaves the first
    one's database and servers alone."""
    fd = os.open(directory / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def lock_holder(directory: Path) -> str:
    try:
        return (directory / "run.lock").read_text().strip() or "?"
    except OSError:
        return "?"


async def ensure_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def admin_key(directory: Path) -> tuple[str, str]:
    """The admin key and where it came from."""
    if os.environ.get("KAOHE_BOOTSTRAP_ADMIN_KEY"):
        return os.environ["KAOHE_BOOTSTRAP_ADMIN_KEY"], "KAOHE_BOOTSTRAP_ADMIN_KEY"
    path = directory / "admin-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key()[1] + "\n")
    return path.read_text().strip(), str(path)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the runner dies, even by SIGKILL, so no server keeps a port."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def start_services(env: dict[str, str]) -> dict[str, subprocess.Popen]:
    host = bind_host()
    processes = {}
    for name, target, _default_port in SERVICES:
        port = str(service_port(name))
        processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--host",
                host,
                "--port",
                port,
                "--timeout-graceful-shutdown",
                "10",
                "--log-config",
                str(UVICORN_LOG_CONFIG),
                *uvicorn_flags(env),
                "--workers",
                str(worker_count()),
            ],
            cwd=REPO_ROOT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    return processes


def wait_ready(processes: dict[str, subprocess.Popen], urls: dict[str, str]) -> None:
    """Until every service answers /readyz with 200; fail when one exits first."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = set(processes)
    with httpx.Client(timeout=2) as client:
        while pending:
            for name in sorted(pending):
                code = processes[name].poll()
                if code is not None:
                    raise RuntimeError(f"{name} exited with code {code} before it was ready")
                try:
                    if client.get(f"{urls[name]}/readyz").status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {READY_TIMEOUT:.0f} s: {', '.join(sorted(pending))}")
            time.sleep(0.1)


def stop_services(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _raise_stop(_signum, _frame) -> None:
    raise Stop


def main() -> int:
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    lock = hold_run_lock(directory)
    if lock is None:
        print(
            f"kaohe: `make run` is already running on {directory} (process {lock_holder(directory)}); "
            "this one leaves it alone and exits. Stop that one first (Ctrl-C), or set KAOHE_DATA_DIR "
            "to run a second instance on other data.",
            file=sys.stderr,
        )
        return 1
    # Both explicitly: a shell without job control starts background commands with SIGINT ignored.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    embedded: EmbeddedPostgres | None = None
    processes: dict[str, subprocess.Popen] = {}
    try:
        if use_embedded():
            embedded = EmbeddedPostgres(directory / "pg")
            embedded.start()
            asyncio.run(ensure_database(embedded.url(), "kaohe"))
            url, where = embedded.url("kaohe"), f"embedded, data in {directory / 'pg'}"
        else:
            url, where = Settings().database_url, "DATABASE_URL"
        upgrade(url)
        key, key_source = admin_key(directory)
        env = {**os.environ, "DATABASE_URL": url, "KAOHE_BOOTSTRAP_ADMIN_KEY": key}
        urls = service_urls()
        processes = start_services(env)
        wait_ready(processes, urls)
        print(f"\nkaohe is running (PostgreSQL: {where})", flush=True)
        for name, service_url in urls.items():
            print(f"  {name:<10} {service_url}   API docs: {service_url}/docs")
        print(f"  admin key  {key}   ({key_source})")
        print("Ctrl-C stops everything.\n", flush=True)
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        failed = [name for name, process in processes.items() if process.poll() is not None]
        print(f"kaohe: {', '.join(failed)} stopped; stopping the rest", file=sys.stderr)
        return 1
    except Stop:
        return 0
    except RuntimeError as exc:
        print(f"kaohe: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_services(processes)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
