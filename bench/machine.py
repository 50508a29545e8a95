"""What the numbers were measured on: machine, versions, load, commit."""

import os
import platform
import subprocess
import sys
from importlib import metadata

from shared.settings import REPO_ROOT

PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "asyncpg",
    "SQLAlchemy",
    "pydantic",
    "orjson",
    "immutables",
    "eventsourcing",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "httpx",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _run(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def versions() -> dict[str, str]:
    found = {"Python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    wrk = _run("wrk", "--version") or ""
    found["wrk"] = wrk.split("[")[0].replace("wrk", "").strip() or "not installed"
    return found


def describe() -> dict[str, str]:
    commit = _run("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(_run("git", "status", "--porcelain", "--untracked-files=no"))
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "ram": f"{memory_gib():.1f} GiB",
        "kernel": platform.release(),
        "commit": commit + (" (work tree has uncommitted changes)" if dirty else ""),
        "load_before": load_average(),
    }
