"""A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`):
commands go in on the browser's fd 3, answers and events come out on fd 4, each a JSON message
ended by a NUL byte. No websocket library and no network port needed."""

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--lang=zh-CN",
    "--remote-debugging-pipe",
]


def ensure_debian_packages(wanted: dict[str, bool]) -> None:
    """apt-get install the packages marked missing (`{package: missing}`); CI runs as root with
    Debian's registry, so a test never skips for want of a program."""
    missing = [package for package, absent in wanted.items() if absent]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


def has_chinese_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


def ensure_chromium() -> str:
    """Debian's chromium and a font with Chinese glyphs, installed when missing."""
    ensure_debian_packages({"chromium": shutil.which("chromium") is None, "fonts-wqy-microhei": not has_chinese_font()})
    path = shutil.which("chromium")
    assert path, "chromium is not installed and apt-get could not install it"
    return path


def _high(fd: int) -> int:
    """The fd moved above 10, so placing the child's ends at 3 and 4 cannot clobber one another."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    def __init__(self, chromium: str, user_data_dir: str, extra_flags: tuple[str, ...] = ()):
        to_browser_r, self._to_browser = (_high(fd) for fd in os.pipe())
        self._from_browser, from_browser_w = (_high(fd) for fd in os.pipe())

        def place_fds() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [chromium, *FLAGS, *extra_flags, f"--user-data-dir={user_data_dir}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=place_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._answers: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        waiting = self._answers.pop(message["id"], None)
                    if waiting is not None:
                        waiting.put(message)
                else:
                    self.events.put(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30.0, session: bool = True
    ) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            ident, answer = self._next_id, queue.Queue()
            self._answers[ident] = answer
        message = {"id": ident, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = answer.get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, url: str, *, width: int, height: int, network: bool = False) -> None:
        """A new tab on `url`; with `network`, its requests are reported in `events` from the start."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.call("Page.enable")
        if network:
            self.call("Network.enable")
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"still falsy after {timeout}s: {expression}")
            time.sleep(0.1)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        self._reader.join(timeout=5)  # the browser's end of the pipe is closed: the reader sees EOF
        os.close(self._from_browser)
