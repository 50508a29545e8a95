"""Load drivers, always in a separate process from the server they measure.

`wrk` (Debian's package, C, epoll) is the driver for throughput: one thread of it keeps 64
connections busy with a few percent of a core, which matters on a 2-core machine where driver and
server share the CPU. `bench.pyload` (asyncio, raw HTTP/1.1 over keep-alive connections) is the
fallback when wrk is absent and the paced background load for the freshness benchmark. Every
report says which driver ran, and the driver is measured against the ceiling app too.
"""

import asyncio
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).parent / "lua"


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    def rate(self, status: int | None = None) -> float:
        count = self.requests if status is None else self.statuses.get(status, 0)
        return count / self.seconds if self.seconds else 0.0


def driver_name() -> str:
    return "wrk" if shutil.which("wrk") else "pyload"


def _script(name: str) -> Path:
    """common.lua + the named script, as one file (wrk takes a single script)."""
    target = Path(os.environ.get("TMPDIR", "/tmp")) / f"kaohe-bench-{name}"
    target.write_text((LUA / "common.lua").read_text() + "\n" + (LUA / name).read_text())
    return target


async def run(
    url: str,
    *,
    script: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    threads: int = 1,
) -> LoadResult:
    """Drive `url` for `seconds` with `connections` keep-alive connections; `script` is a bench/lua name."""
    headers = headers or {}
    if driver_name() == "pyload":
        return await _pyload(url, script=script, connections=connections, seconds=seconds, headers=headers, env=env)
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(_script(script)),
    ]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    args.append(url)
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    out, err = await process.communicate()
    for line in out.decode().splitlines():
        if line.startswith("BENCHJSON "):
            raw = json.loads(line.removeprefix("BENCHJSON "))
            return LoadResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                statuses={int(k): v for k, v in raw["statuses"].items()},
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                errors=raw["errors"],
            )
    raise RuntimeError(f"wrk gave no summary: {out.decode()[-2000:]} {err.decode()[-2000:]}")


async def _pyload(
    url: str, *, script: str, connections: int, seconds: float, headers: dict[str, str], env: dict[str, str] | None
) -> LoadResult:
    args = [
        sys.executable,
        "-m",
        "bench.pyload",
        "--url",
        url,
        "--script",
        script,
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
    ]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    out, _ = await process.communicate()
    raw = json.loads(out.decode().strip().splitlines()[-1])
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["seconds"],
        statuses={int(k): v for k, v in raw["statuses"].items()},
        p50_ms=raw["p50_ms"],
        p99_ms=raw["p99_ms"],
        errors=raw.get("errors", {}),
    )
