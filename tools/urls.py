"""Where the services of `make run` listen, from the same settings `make run` reads, so `make demo`
and every `kaohe` command that calls a service find them without a `--url`.

`KAOHE_<SERVICE>_URL` (e.g. `KAOHE_SCORING_URL`) names a service directly; otherwise the URL is
built from `KAOHE_HOST` and `KAOHE_<SERVICE>_PORT` (defaults 127.0.0.1 and 8001/8002/8003).
"""

import os

DEFAULT_PORTS = {"ingest": 8001, "scoring": 8002, "reporting": 8003}
# A server bound to every interface is reached on the loopback one.
_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}


def bind_host() -> str:
    return os.environ.get("KAOHE_HOST") or "127.0.0.1"


def port(service: str) -> int:
    return int(os.environ.get(f"KAOHE_{service.upper()}_PORT") or DEFAULT_PORTS[service])


def service_url(service: str) -> str:
    """The base URL a client on this machine uses for `service` (ingest, scoring or reporting)."""
    explicit = os.environ.get(f"KAOHE_{service.upper()}_URL")
    if explicit:
        return explicit.rstrip("/")
    host = bind_host()
    host = "127.0.0.1" if host in _ANY_HOST else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port(service)}"
