"""Real uvicorn processes for the services and the ceiling app, started the way deploy/ starts them."""

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from shared.serving import uvicorn_flags
from shared.settings import REPO_ROOT, worker_count

APPS = {
    "ingest": "services.ingest.app:app",
    "scoring": "services.scoring.app:app",
    "reporting": "services.reporting.app:app",
    "ceiling": "bench.ceiling:app",
}
# The one set of uvicorn settings every measured server gets (ours and the ceiling alike), the
# same as deploy/entrypoint.sh: KAOHE_WORKERS worker processes (default: the CPUs), no access log,
# the connection limits and protocol of `shared.serving`.
UVICORN_ARGS = ("--no-access-log", "--log-level", "warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_key() -> str:
    return f"kh_bench{secrets.token_hex(2)}_{secrets.token_urlsafe(32)}"


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: str
    rss_samples: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_bytes(self) -> int:
        """VmHWM: the kernel's own high-water mark of the resident set, summed over the workers."""
        return sum(_status_kb(pid, "VmHWM") for pid in _tree(self.process.pid)) * 1024

    def rss_bytes(self) -> int:
        return sum(_status_kb(pid, "VmRSS") for pid in _tree(self.process.pid)) * 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's supervisor and its workers)."""
    pids, index = [pid], 0
    while index < len(pids):
        try:
            with open(f"/proc/{pids[index]}/task/{pids[index]}/children") as children:
                pids += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
        index += 1
    return pids


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


async def start(
    name: str,
    *,
    env: dict[str, str] | None = None,
    log_dir: str = "/tmp",
    ready_path: str = "/readyz",
    timeout: float = 120.0,
    workers: int | None = None,
) -> Server:
    """Start one app under uvicorn on a free port and wait until `ready_path` answers 200."""
    port = free_port()
    log_path = os.path.join(log_dir, f"kaohe-bench-{name}-{port}.log")
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                APPS[name],
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *UVICORN_ARGS,
                *uvicorn_flags(full_env),
                "--workers",
                str(workers or worker_count()),
            ],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, port, process, log_path)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log_path}:\n{_tail(log_path)}")
            try:
                if (await client.get(ready_path)).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} not ready after {timeout}s; see {log_path}:\n{_tail(log_path)}")
            await asyncio.sleep(0.1)


def service_env(url: str, key: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "KAOHE_BOOTSTRAP_ADMIN_KEY": key, **extra}


def _tail(path: str, lines: int = 30) -> str:
    with open(path, errors="replace") as log:
        return "".join(log.readlines()[-lines:])
