"""An embedded PostgreSQL for machines with no server: `make run`, `make test` and fault tests.

`EmbeddedPostgres(data_dir)` keeps one cluster under `data_dir`:

    data_dir/pgdata             the cluster (PGDATA), or a symlink to a relocated one (see below)
    data_dir/pgdata/server.log  the server's log
    data_dir/.lock              serialises start/stop between processes

It listens on 127.0.0.1 (a free port unless one is given) and on a Unix socket inside PGDATA,
with trust authentication for the superuser `postgres`; fsync stays on.

Binaries: `KAOHE_PG_BINDIR`, else the machine's own (`pg_ctl` on PATH, `/usr/lib/postgresql/*/bin`),
else those bundled in the `pgserver` wheel. We never use pgserver's own server manager: run as root
it adds world read/execute permission to every parent directory of the data directory and of the
virtualenv, up to `/`.

PostgreSQL refuses to run as root, so as root the server runs as an unprivileged user
(`KAOHE_PG_OS_USER`, else `postgres`, else `nobody`) that owns PGDATA. That user must be able to
reach PGDATA; when a parent directory is closed to it (pytest's `/tmp/pytest-of-root` is 0700, a
checkout under `/root` too), the cluster is *relocated* into `/var/tmp/kaohe-devdb/<hash>-<random>/pgdata` (a directory of
its own per relocation: no two runs or checkouts ever share one)
and `data_dir/pgdata` becomes a symlink to it, rather than opening up directories we do not own.
Relocated clusters whose `data_dir` has disappeared are removed on a later start, or at once by
`destroy()`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
SERVER_CONF = """
# kaohe embedded server (tools/devdb.py)
listen_addresses = '127.0.0.1'
unix_socket_directories = '.'
max_connections = 300
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def for_server(cls) -> _OsUser | None:
        """The user the server runs as: None (ourselves) unless we are root."""
        if os.geteuid() != 0:
            return None
        for name in (os.environ.get("KAOHE_PG_OS_USER"), "postgres", "nobody"):
            if not name:
                continue
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            if entry.pw_uid != 0:
                return cls(name, entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(name, entry.pw_gid)))
        raise RuntimeError("running as root and found no unprivileged user for PostgreSQL (set KAOHE_PG_OS_USER)")

    def can_reach(self, path: Path) -> bool:
        """Whether this user may search every directory from `/` down to `path` (mode bits only)."""
        for directory in (path, *path.parents):
            st = directory.stat()
            if st.st_uid == self.uid:
                bit = stat.S_IXUSR
            elif st.st_gid in self.groups:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return False
        return True


def _relocation_root() -> Path:
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else Path(tempfile.gettempdir())
    root = base / "kaohe-devdb"
    root.mkdir(mode=0o711, exist_ok=True)
    st = root.lstat()
    # /var/tmp is world-writable: refuse a directory someone else planted there.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise RuntimeError(f"{root} is not a directory owned by us; remove it")
    return root


def _pgserver_bindir() -> Path | None:
    spec = importlib.util.find_spec("pgserver")  # without importing: pgserver does work at import
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "pg_ctl").exists() else None


def candidate_bindirs() -> list[Path]:
    """Directories holding initdb, pg_ctl and postgres, best first (the machine's before pgserver's)."""
    found: list[Path] = []
    if os.environ.get("KAOHE_PG_BINDIR"):
        found.append(Path(os.environ["KAOHE_PG_BINDIR"]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        found.append(Path(os.path.realpath(on_path)).parent)
    versioned = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    found.extend(
        Path(p) for p in sorted(versioned, key=lambda p: [int(n) for n in re.findall(r"\d+", p)], reverse=True)
    )
    bundled = _pgserver_bindir()
    if bundled:
        found.append(bundled)
    unique = []
    for bindir in found:
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")) and bindir not in unique:
            unique.append(bindir)
    return unique


def _major_version(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "-V"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"PostgreSQL\)\s*(\d+)", out)
    if match is None:
        raise RuntimeError(f"{bindir / 'postgres'} -V printed no PostgreSQL version: {out!r}")
    return match.group(1)


class EmbeddedPostgres:
    """One PostgreSQL cluster under `data_dir`; `start()` creates it on first use."""

    def __init__(self, data_dir: Path, *, port: int | None = None, bindir: Path | None = None) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._port = port
        self._bindir = Path(bindir) if bindir else None
        self._user = _OsUser.for_server()
        self._launched_pid: int | None = None

    # -- public API ------------------------------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def port(self) -> int | None:
        """The port the server listens on (or will, once started)."""
        info = self._postmaster()
        return info[1] if info else self._port

    def running(self) -> bool:
        return self._postmaster() is not None

    def start(self) -> None:
        """Create the cluster if needed and start it; nothing happens when it already runs."""
        with self._locked():
            pgdata = self._prepare_pgdata()
            bindir = self._choose_bindir(pgdata)
            if not (pgdata / "PG_VERSION").exists():
                self._initdb(bindir, pgdata)
            info = self._postmaster()
            if info:
                self._port = info[1]
                return
            self._port = self._port or free_port()
            log = pgdata / "server.log"
            for attempt in range(6):  # up to ~7 s for a killed server's backends to exit, under load
                time.sleep(0.5 * attempt)
                if self._postmaster() is not None:
                    break
                # A killed server leaves postmaster.pid, naming a dead process or a zombie that
                # PostgreSQL would take for a running server. Removing the file is safe: its
                # shared-memory check still refuses to start while old backends are attached,
                # and they exit within moments of the postmaster (hence the retries; seen to need over 1.5 s
                # on a loaded machine).
                with contextlib.suppress(FileNotFoundError):
                    (pgdata / "postmaster.pid").unlink()
                result = self._run(
                    [bindir / "pg_ctl", "-D", pgdata, "-l", log, "-w", "-t", "60", "-o", f"-p {self._port}", "start"],
                    check=False,
                )
                if result.returncode == 0 and self._postmaster() is not None:
                    break
            else:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"PostgreSQL did not start in {pgdata}: {result.stderr.strip()}\n{tail}")
            info = self._postmaster()
            if info is None:  # it stopped again between the check above and now
                raise RuntimeError(f"PostgreSQL in {pgdata} stopped right after it started")
            if self._launched_pid is None:
                atexit.register(self._stop_at_exit)
            self._launched_pid = info[0]

    def start_as_standby_of(self, primary: EmbeddedPostgres) -> None:
        """Make this cluster a streaming-replication standby of `primary` (`pg_basebackup -R`:
        it writes `standby.signal` and `primary_conninfo`), then start it. A cluster that already
        exists is only started."""
        with self._locked():
            pgdata = self._prepare_pgdata()
            if not (pgdata / "PG_VERSION").exists():
                bindir = primary._choose_bindir(primary._pgdata_target())
                basebackup = bindir / "pg_basebackup"
                if not basebackup.exists():
                    raise RuntimeError(f"no pg_basebackup next to {bindir / 'postgres'}")
                self._bindir = bindir
                self._run(
                    [basebackup, "-D", pgdata, "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER]
                    + ["-R", "-X", "stream", "--no-sync", "-c", "fast"]
                )
        self.start()

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (`mode` as pg_ctl: smart, fast or immediate); nothing happens when it is stopped."""
        with self._locked():
            if self._postmaster() is None:
                return
            bindir = self._choose_bindir(self._pgdata_target())
            result = self._run(
                [bindir / "pg_ctl", "-D", self._pgdata_target(), "-m", mode, "-w", "-t", "60", "stop"], check=False
            )
            if self._postmaster() is not None:
                raise RuntimeError(f"PostgreSQL in {self.pgdata} did not stop: {result.stderr.strip()}")

    def restart(self) -> None:
        """Stop and start again on the same port, so URLs handed out stay valid."""
        self.stop()
        self.start()

    def url(self, dbname: str = "postgres") -> str:
        port = self.port
        if port is None:
            raise RuntimeError(f"the embedded PostgreSQL in {self.data_dir} has not been started")
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{port}/{dbname}"

    def destroy(self) -> None:
        """Stop the server and delete the cluster, including a relocated one, and `data_dir`."""
        self.stop(mode="immediate")
        target = self._pgdata_target()
        if self.pgdata.is_symlink():
            shutil.rmtree(target.parent, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _pgdata_target(self) -> Path:
        return Path(os.path.realpath(self.pgdata))

    def _postmaster(self) -> tuple[int, int] | None:
        return _live_postmaster(self.pgdata)

    def _prepare_pgdata(self) -> Path:
        """The directory the cluster lives in, created and owned by the server's user."""
        if self.pgdata.is_symlink() and not self.pgdata.exists():
            self.pgdata.unlink()  # its relocated cluster was removed (e.g. /var/tmp cleaned)
        if self.pgdata.exists():
            target = self._pgdata_target()
        elif self._user is None or self._user.can_reach(self.data_dir):
            target = self.pgdata
        else:
            target = self._relocate()
        target.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None and target.stat().st_uid != self._user.uid:
            os.chown(target, self._user.uid, self._user.gid)
            target.chmod(0o700)
        return target

    def _relocate(self) -> Path:
        root = _relocation_root()
        _collect_orphans(root)
        # A fresh directory per relocation, never one derived from the path alone: pytest reuses
        # `/tmp/pytest-of-root/pytest-N/...` paths across runs and checkouts, so a name made from the
        # path could meet a cluster another (or a killed) run left there. The symlink finds it again.
        prefix = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12] + "-"
        home = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        home.chmod(0o711)
        (home / "origin").write_text(str(self.pgdata))
        (home / "pgdata").mkdir(mode=0o700)
        self.pgdata.symlink_to(home / "pgdata")
        return home / "pgdata"

    def _choose_bindir(self, pgdata: Path) -> Path:
        if self._bindir is None:
            candidates = candidate_bindirs()
            if not candidates:
                raise RuntimeError(
                    "no PostgreSQL binaries: install PostgreSQL or the pgserver wheel, "
                    "or set DATABASE_URL to a running server"
                )
            chosen = candidates[0]
            version_file = pgdata / "PG_VERSION"
            if version_file.exists():
                wanted = version_file.read_text().strip()
                matching = next((b for b in candidates if _major_version(b) == wanted), None)
                if matching is None:
                    raise RuntimeError(
                        f"{pgdata} holds a PostgreSQL {wanted} cluster and no binaries of that "
                        "version were found; remove the directory to start afresh"
                    )
                chosen = matching
            self._bindir = chosen
        if self._user is not None and not self._user.can_reach(self._bindir):
            if self._bindir != _pgserver_bindir():
                raise RuntimeError(f"user {self._user.name} cannot reach the PostgreSQL binaries in {self._bindir}")
            self._bindir = _copy_pgserver_binaries(self._bindir)
        return self._bindir

    def _initdb(self, bindir: Path, pgdata: Path) -> None:
        # --no-sync: a crash in the first second would only lose an empty development cluster.
        self._run(
            [bindir / "initdb", "-D", pgdata, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        )
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write(SERVER_CONF)

    def _run(self, argv: list, *, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            kwargs = {"user": self._user.uid, "group": self._user.gid, "extra_groups": list(self._user.groups)}
        # Files, not pipes: the postmaster pg_ctl starts would otherwise hold a pipe open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(
                [str(a) for a in argv],
                cwd="/",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                **kwargs,
            )
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        if check and result.returncode != 0:
            raise RuntimeError(f"{Path(str(argv[0])).name} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _stop_at_exit(self) -> None:
        info = self._postmaster()
        if info and info[0] == self._launched_pid:
            with contextlib.suppress(Exception):
                self.stop(mode="fast")


def _collect_orphans(root: Path) -> None:
    """Remove relocated clusters whose `data_dir` is gone and whose server is not running."""
    for home in root.iterdir():
        origin_file = home / "origin"
        if not origin_file.exists():
            continue
        link = Path(origin_file.read_text())
        if link.is_symlink() and os.path.realpath(link) == str(home / "pgdata"):
            continue
        # A young one may be another process's relocation that has not made its symlink yet.
        if _live_postmaster(home / "pgdata") is None and time.time() - home.stat().st_mtime > 300:
            shutil.rmtree(home, ignore_errors=True)


def _live_postmaster(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) of the live server of a cluster, from its postmaster.pid."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    # After a crash or a reboot the file stays behind, and its pid may now be another program's.
    with contextlib.suppress(OSError):
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    return pid, port


COMPLETE = ".complete"


def _copy_pgserver_binaries(bindir: Path) -> Path:
    """Copy pgserver's binaries (and the libraries their RPATH names) where the server's user reaches them."""
    package = bindir.parent.parent  # .../site-packages/pgserver
    dest = _relocation_root() / f"pgserver-{hashlib.sha256(str(package).encode()).hexdigest()[:12]}"
    # Shared by every run of this checkout, so it is only ever added whole and never replaced: a
    # complete copy is renamed into place (atomic), and a run that loses that race keeps the winner's.
    # (Replacing it used to delete binaries under another run's `pg_ctl start`.)
    if not (dest / COMPLETE).exists():
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".staging-"))
        try:
            shutil.copytree(package / "pginstall", staging / "pgserver" / "pginstall", symlinks=True)
            if (package.parent / "pgserver.libs").exists():
                shutil.copytree(package.parent / "pgserver.libs", staging / "pgserver.libs", symlinks=True)
            for directory, _subdirs, _files in os.walk(staging):
                os.chmod(directory, 0o755)
            (staging / COMPLETE).touch()
            if dest.exists() and not (dest / COMPLETE).exists():
                # an incomplete copy of an older version of this code: move it aside, never delete in place
                with contextlib.suppress(OSError):
                    dest.rename(dest.with_name(f".old-{dest.name}-{os.getpid()}"))
            with contextlib.suppress(OSError):  # another run's complete copy got there first
                staging.rename(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest / "pgserver" / "pginstall" / "bin"


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.devdb status|start|stop|destroy [DATA_DIR]` (default: the `make run` server)."""
    import argparse

    from shared.settings import REPO_ROOT

    parser = argparse.ArgumentParser(prog="python -m tools.devdb", description=main.__doc__)
    parser.add_argument("action", choices=("status", "start", "stop", "destroy"))
    default = Path(os.environ.get("KAOHE_DATA_DIR") or REPO_ROOT / ".data") / "pg"
    parser.add_argument("data_dir", nargs="?", type=Path, default=default)
    args = parser.parse_args(argv)
    server = EmbeddedPostgres(args.data_dir)
    if args.action == "start":
        server.start()
        server._launched_pid = None  # leave it running when we exit
    elif args.action == "stop":
        server.stop()
    elif args.action == "destroy":
        server.destroy()
    print(f"{args.data_dir}: " + (f"running, {server.url()}" if server.running() else "stopped"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
