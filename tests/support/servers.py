"""Real uvicorn processes of the services, logging to files (a pipe nobody reads would block them)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.serving import uvicorn_flags
from tools.devdb import free_port

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "scoring", "reporting")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start(
    name: str,
    database_url: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    log_level: str = "warning",
    log_config: Path | None = None,
) -> Server:
    """One service under uvicorn with the production limits; `log_config` logs as `make run` does."""
    port = free_port()
    logging = ["--log-config", str(log_config)] if log_config else ["--log-level", log_level]
    log_path = log_dir / f"{name}-{port}.log"
    environment = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"services.{name}.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *logging,
                *uvicorn_flags(environment),
            ],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Server(name, port, process, log_path)


def wait_until(server: Server, path: str = "/readyz", *, timeout: float = 60.0) -> None:
    """Until `path` answers 200 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log()[-3000:]}")
        try:
            if httpx.get(server.url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready on {path}:\n{server.log()[-3000:]}")


@contextlib.contextmanager
def running(
    database_url: str, log_dir: Path, *, env: dict[str, str] | None = None, log_config: Path | None = None
) -> Iterator[dict[str, Server]]:
    """The three services, each its own process, ready; stopped on the way out."""
    servers: dict[str, Server] = {}
    try:
        for name in SERVICES:
            servers[name] = start(name, database_url, log_dir, env=env, log_config=log_config)
        for server in servers.values():
            wait_until(server, timeout=90)
        yield servers
    finally:
        for server in servers.values():
            server.stop()
