"""Real uvicorn processes of the services, for tests that kill or restart them."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, exactly like a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_service(name: str, database_url: str, *, env: dict[str, str] | None = None,
                  wait_ready: bool = True) -> ServiceProcess:
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"services.{name}.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    service = ServiceProcess(name, port, process)
    if wait_ready:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                    return service
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        service.stop()
        raise RuntimeError(f"{name} did not start")
    return service
