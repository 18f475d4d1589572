"""The embedded PostgreSQL 16 + pgvector server used when ``DATABASE_URL`` is unset.

The server binaries come from the ``pgserver`` wheel. The cluster lives in
``<VERITAS_DATA_DIR>/postgres`` and listens only on a Unix socket, so every local
process (server, worker, tests, shell) shares it, and it keeps running between them.

This module does no work at import time. ``ensure_ready()`` is called by the
``veritas.db`` database backend when a connection finds no server there: it initialises
the cluster on first use, starts it when it is stopped, recovers from a stale lock file
left by a crash, waits out a slow crash recovery (longer than pgserver's own 10 s start
timeout), and creates the application database. It refuses to start a server stopped on
purpose (``stop()``, ``make db-stop``): only ``start()`` (``embedded_db start``, run by
``make run``) lifts that. Failures raise ``EmbeddedDatabaseError`` with a message that
says what to do.

Only the server's own OS user can reach it: the socket is in a folder private to that
user (the data folder, or a 0700 folder of its own in /tmp when that path is too long for
a socket), and clients check through libpq's ``requirepeer`` that the process behind the
socket runs as that user. That is why ``initdb --auth=trust`` is safe here.
"""

from __future__ import annotations

import datetime
import fcntl
import functools
import hashlib
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SOCKET_NAME = ".s.PGSQL.5432"
# Unix socket paths are limited to 107 bytes on Linux (103 on macOS).
MAX_SOCKET_PATH = 100
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root, the server runs as pgserver's system user.
ROOT_SERVER_USER = "pgserver"
# pg_ctl runs the server through /bin/sh with the data folder inside double quotes: these
# characters would be interpreted there, not passed on.
# "," too: PostgreSQL splits unix_socket_directories on commas.
PG_CTL_UNSAFE_CHARACTERS = frozenset('"$`\\\n,')


# pgserver computes a runtime folder when imported (we do not use it); without
# XDG_RUNTIME_DIR, platformdirs warns about that on every command.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be made ready; the message says why and what to do."""


@dataclass(frozen=True)
class EmbeddedCluster:
    data_dir: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def stop_marker(self) -> Path:
        """Present while the server is stopped on purpose (``make db-stop``)."""
        return self.data_dir / "stopped"

    @property
    def socket_dir(self) -> Path:
        """Where the server puts its socket: the data folder, or /tmp when that path is too long.

        Deterministic and free of I/O, so settings can name it before the server runs and
        every process agrees on it. The /tmp folder is per user (a root process and a normal
        user never share a cluster: the data folder belongs to the server's user) and is used
        only when it is private to the server's user (see ``_prepare_socket_dir``).
        """
        if len(os.fsencode(self.pgdata / SOCKET_NAME)) <= MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        # Fixed, not $TMPDIR or $XDG_RUNTIME_DIR: those differ between a shell, sudo, cron
        # and a service, and every process must agree on the path.
        return Path("/tmp") / f"veritas-pg-{os.geteuid()}-{digest}"  # noqa: S108

    def django_settings(self, name: str) -> dict:
        return {
            "ENGINE": "veritas.db",
            "NAME": name,
            "USER": SUPERUSER,
            "HOST": str(self.socket_dir),
            "PORT": "",
            "EMBEDDED_DATA_DIR": str(self.data_dir),
        }


def cluster_for(data_dir: str | os.PathLike) -> EmbeddedCluster:
    return EmbeddedCluster(Path(data_dir).expanduser().resolve())


@functools.cache
def server_user() -> str | None:
    """The OS user the server runs as, for libpq's ``requirepeer``; None when it has no name."""
    if os.geteuid() == 0:
        return ROOT_SERVER_USER
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers): nothing to name
        return None


# --- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lock:
    """What postmaster.pid says: the server's pid, its status and its socket folder."""

    pid: int
    status: str
    socket_dir: str


def _read_lock(pgdata: Path) -> _Lock | None:
    """postmaster.pid's content, or None when there is no such file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if not lines or not lines[0].strip().isdigit():
        return _Lock(0, "corrupt", "")
    status = lines[7].strip() if len(lines) > 7 else "starting"
    socket_dir = lines[4].strip() if len(lines) > 4 else ""
    return _Lock(int(lines[0]), status, socket_dir)


def _identify(pid: int, pgdata: Path) -> str:
    """'ours' (a server of this data folder), 'gone' (no such process, a zombie, or a
    process that is not one: the pid was reused) or 'unknown' (alive and not inspectable,
    so maybe ours: any doubt lands here).

    A PostgreSQL server works in its data folder (it changes into it before it writes
    postmaster.pid), so its working directory says which cluster it serves, even when the
    folder was renamed or reached through a link.
    """
    import psutil

    if pid <= 0:  # an empty or garbled postmaster.pid, left by a crash during start-up
        return "gone"
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() not in ("postgres", "postmaster"):
            return "gone"
        cwd = proc.cwd()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return "gone"
    except psutil.AccessDenied:
        # Another user's process: perhaps this cluster's server, started by someone else.
        return "unknown"
    return "ours" if Path(cwd) == pgdata else "gone"


def server_state(cluster: EmbeddedCluster) -> str:
    """One of: 'absent' (no cluster yet), 'stopped', 'stale' (lock of a dead server),
    'unknown' (the lock names a live process Veritas may not inspect), 'starting', 'ready'."""
    if not (cluster.pgdata / "PG_VERSION").exists():
        return "absent"
    lock = _read_lock(cluster.pgdata)
    if lock is None:
        return "stopped"
    identity = _identify(lock.pid, cluster.pgdata)
    if identity == "gone":
        return "stale"
    if identity == "unknown":
        return "unknown"
    return "ready" if lock.status == "ready" else "starting"


def no_server_listening(cluster: EmbeddedCluster) -> bool:
    """True when nothing listens on the socket: the file (or its folder) is missing, or
    connecting is refused (the socket of a crashed server). Anything else (permission
    denied, a timeout, a full backlog) is no proof that the server is absent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(cluster.socket_dir / SOCKET_NAME))
        except (FileNotFoundError, ConnectionRefusedError):
            return True
        except OSError:
            return False
    return False


# --- start ----------------------------------------------------------------------------


@contextmanager
def _start_lock(cluster: EmbeddedCluster):
    """Serialise set-up between processes (a server, a worker and pytest may start at once)."""
    cluster.data_dir.mkdir(parents=True, exist_ok=True)
    with open(cluster.data_dir / ".start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _system_user(cluster: EmbeddedCluster) -> str | None:
    """PostgreSQL refuses to run as root; as root, run it as pgserver's own system user."""
    if os.geteuid() != 0:
        return None
    import pwd

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(ROOT_SERVER_USER)
    cluster.pgdata.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(cluster.pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_exec = 0o055
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(ROOT_SERVER_USER)
    os.chown(cluster.pgdata, entry.pw_uid, entry.pw_gid)
    return ROOT_SERVER_USER


def _run(binary: str, args: list[str], user: str | None, timeout: float) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH

    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / binary), *args],
        user=user,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise EmbeddedDatabaseError(
            f"{binary} failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
        )


def _log_tail(cluster: EmbeddedCluster, lines: int = 15) -> str:
    try:
        return "\n".join(cluster.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _lock_in_doubt(cluster: EmbeddedCluster) -> EmbeddedDatabaseError:
    lock = _read_lock(cluster.pgdata)
    pid = lock.pid if lock else "?"
    return EmbeddedDatabaseError(
        f"{cluster.pgdata / 'postmaster.pid'} names process {pid}, which is alive but which Veritas may not "
        "inspect: it may be this cluster's server, run by another user. Veritas leaves the lock alone (two "
        f"servers on one data folder would corrupt it). Look at the process (`ps -o user,args -p {pid}`): "
        "if it is this server, use it as its user or stop it; if it is not, remove "
        f"{cluster.pgdata / 'postmaster.pid'} and run `make run` again."
    )


def _stopped_on_purpose(cluster: EmbeddedCluster) -> EmbeddedDatabaseError:
    try:
        when = cluster.stop_marker.read_text().strip()
    except OSError:
        when = ""
    return EmbeddedDatabaseError(
        f"The embedded PostgreSQL server in {cluster.pgdata} was stopped with `make db-stop`"
        f"{f' ({when})' if when else ''} and stays stopped until it is started again: "
        "run `make run`, or `python manage.py embedded_db start`."
    )


def _check_path_for_pg_ctl(cluster: EmbeddedCluster) -> None:
    unsafe = sorted(PG_CTL_UNSAFE_CHARACTERS & set(str(cluster.pgdata)))
    if unsafe:
        raise EmbeddedDatabaseError(
            f"The data folder {cluster.pgdata} contains {', '.join(repr(c) for c in unsafe)}, which pg_ctl "
            "cannot pass to PostgreSQL (it starts the server through a shell). "
            "Set VERITAS_DATA_DIR to a path without it."
        )


def _prepare_socket_dir(cluster: EmbeddedCluster, user: str | None) -> None:
    """Make sure the socket folder is private to the server's user: a real folder (not a
    link) of that user, mode 0700. One that someone else made or opened is refused, never
    repaired: whoever could write in it could have put an impostor's socket there."""
    socket_dir = cluster.socket_dir
    if socket_dir == cluster.pgdata:
        return  # PostgreSQL itself refuses to start unless the data folder is private
    import pwd

    owner = pwd.getpwnam(user).pw_uid if user else os.geteuid()
    try:
        socket_dir.mkdir(mode=0o700)
    except FileExistsError:
        pass
    else:
        socket_dir.chmod(0o700)  # the umask may have removed the owner's own bits
    info = os.lstat(socket_dir)
    # Root trusts what root made (an interrupted start may have left it before the chown).
    trusted_owners = {owner, 0} if os.geteuid() == 0 else {owner}
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder"
    elif info.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(info.st_mode):04o}, not 0700)"
    elif info.st_uid not in trusted_owners:
        problem = f"belongs to another user (uid {info.st_uid}, not {user or 'you'}, uid {owner})"
    else:
        if info.st_uid != owner:
            os.chown(socket_dir, owner, -1)
        return
    raise EmbeddedDatabaseError(
        f"The socket folder {socket_dir} {problem}. The data folder's path is too long for a socket, so the "
        "embedded server's socket goes there, and only into a folder private to the server's user: anyone "
        "who can write in it could pose as the database. If you did not make it so, another local user may "
        f"have: remove it (`rm -r {socket_dir}`, as its owner or root) and run `make run` again, or use a shorter "
        "VERITAS_DATA_DIR."
    )


def _remove_stale_lock_files(cluster: EmbeddedCluster) -> None:
    """A crash (or a killed container) can leave postmaster.pid naming a pid that is now
    some other process, or none; PostgreSQL then refuses to start. Only called when
    ``_identify`` is sure that no server of ours runs, so the lock files are safe to remove."""
    for path in (cluster.pgdata / "postmaster.pid", cluster.socket_dir / f"{SOCKET_NAME}.lock"):
        path.unlink(missing_ok=True)


def _wait_until_ready(cluster: EmbeddedCluster, timeout: float) -> None:
    started = time.monotonic()
    deadline = started + timeout
    next_notice = started + 5
    while True:
        state = server_state(cluster)
        if state == "ready":
            return
        if state == "unknown":
            raise _lock_in_doubt(cluster)
        if state in ("stopped", "stale") and time.monotonic() - started > 3:
            # The postmaster exited (or never came up): no point in waiting.
            raise EmbeddedDatabaseError(
                f"The embedded PostgreSQL server in {cluster.pgdata} did not start.\n"
                f"Last lines of {cluster.log_file}:\n{_log_tail(cluster)}\n"
                "Fix the cause above, or move the folder aside to start with an empty database."
            )
        if time.monotonic() > deadline:
            raise EmbeddedDatabaseError(
                f"The embedded PostgreSQL server in {cluster.pgdata} is not ready after {timeout:.0f} s "
                f"(state: {state}). It may still be replaying its write-ahead log after a crash: "
                "wait and run `make run` again, or raise VERITAS_DB_START_TIMEOUT.\n"
                f"Last lines of {cluster.log_file}:\n{_log_tail(cluster)}"
            )
        if time.monotonic() >= next_notice:
            print(
                f"veritas: waiting for the embedded PostgreSQL server ({state}, crash recovery can take a while)…",
                file=sys.stderr,
            )
            next_notice = time.monotonic() + 5
        time.sleep(0.1)


def _check_socket_location(cluster: EmbeddedCluster) -> None:
    """A running server whose socket is not where this code connects (started by an older
    Veritas, or by hand) can never be reached: say so instead of failing to connect."""
    lock = _read_lock(cluster.pgdata)
    if lock and lock.socket_dir and Path(lock.socket_dir) != cluster.socket_dir:
        raise EmbeddedDatabaseError(
            f"The embedded PostgreSQL server of {cluster.pgdata} has its socket in {lock.socket_dir}, but "
            f"Veritas connects through {cluster.socket_dir} (the server was started by an older version, or "
            "by hand). Restart it: `make db-stop`, then `make run`."
        )


def shared_buffers() -> str:
    """PostgreSQL's cache: an eighth of the machine's memory, between 128 MB (PostgreSQL's
    default) and 1 GB. The default alone cannot hold a vector store of 100,000 x 384 and its
    HNSW index (350 MB), and every search then reads pages back from the OS (docs/operations.md)."""
    import psutil

    megabytes = psutil.virtual_memory().total // (8 * 1024 * 1024)
    return f"{min(max(megabytes, 128), 1024)}MB"


def _start(cluster: EmbeddedCluster, timeout: float) -> None:
    state = server_state(cluster)
    if state == "unknown":
        raise _lock_in_doubt(cluster)
    if state in ("ready", "starting"):
        _wait_until_ready(cluster, timeout)
        _check_socket_location(cluster)
        return
    if cluster.stop_marker.exists():
        raise _stopped_on_purpose(cluster)
    _check_path_for_pg_ctl(cluster)
    user = _system_user(cluster)
    _prepare_socket_dir(cluster, user)
    if state == "absent":
        cluster.pgdata.mkdir(parents=True, exist_ok=True)
        _run(
            "initdb",
            ["-D", str(cluster.pgdata), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
            user,
            timeout=120,
        )
    if state == "stale":
        print(f"veritas: removing the stale lock of a crashed server in {cluster.pgdata}", file=sys.stderr)
        _remove_stale_lock_files(cluster)
    # -W: do not wait inside pg_ctl (its own timeout would give up during a long crash
    # recovery); readiness is polled below from postmaster.pid instead. pg_ctl hands -o to
    # a shell: the socket folder is quoted for it.
    server_options = f"-h '' -k {shlex.quote(str(cluster.socket_dir))} -c shared_buffers={shared_buffers()}"
    _run(
        "pg_ctl",
        ["-D", str(cluster.pgdata), "-W", "-l", str(cluster.log_file), "-o", server_options, "start"],
        user,
        timeout=30,
    )
    _wait_until_ready(cluster, timeout)


def _connect(cluster: EmbeddedCluster, dbname: str):
    """A superuser connection, to the server of this cluster only (``requirepeer``)."""
    import psycopg

    params = {"host": str(cluster.socket_dir), "user": SUPERUSER, "dbname": dbname, "connect_timeout": 10}
    if peer := server_user():
        params["requirepeer"] = peer
    return psycopg.connect(**params, autocommit=True)


def _ensure_database(cluster: EmbeddedCluster, name: str) -> None:
    from psycopg import sql

    with _connect(cluster, "postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _make_ready(cluster: EmbeddedCluster, database: str, timeout: float, lift_stop: bool) -> None:
    import psycopg

    try:
        with _start_lock(cluster):
            if lift_stop:
                cluster.stop_marker.unlink(missing_ok=True)
            _start(cluster, timeout)
            _ensure_database(cluster, database)
    except EmbeddedDatabaseError:
        raise
    except ImportError as exc:
        raise EmbeddedDatabaseError(
            f"The embedded database needs the pgserver package ({exc}). Run `make run`, or set DATABASE_URL."
        ) from exc
    except psycopg.Error as exc:
        raise EmbeddedDatabaseError(
            f"The embedded PostgreSQL server in {cluster.pgdata} runs, but Veritas could not use it: {exc}"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedDatabaseError(
            f"Could not start the embedded PostgreSQL server in {cluster.pgdata}: {exc}\n"
            f"Last lines of {cluster.log_file}:\n{_log_tail(cluster)}"
        ) from exc


def ensure_ready(cluster: EmbeddedCluster, database: str, timeout: float = 120) -> None:
    """Start the embedded server if needed and make sure ``database`` exists.

    The automatic start (a connection found no server): it refuses, saying how to start
    the server, when ``stop()`` stopped it on purpose.
    """
    _make_ready(cluster, database, timeout, lift_stop=False)


def start(cluster: EmbeddedCluster, database: str, timeout: float = 120) -> None:
    """An operator's start (``embedded_db start``, ``make run``): lifts a ``stop()``, then
    does what ``ensure_ready`` does."""
    _make_ready(cluster, database, timeout, lift_stop=True)


# --- stop -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StopReport:
    was_running: bool
    # The client connections the stop closed: who will get errors (and the API 503s).
    closed_connections: list[str] = field(default_factory=list)


def _client_connections(cluster: EmbeddedCluster) -> list[str]:
    import psycopg

    try:
        with _connect(cluster, "postgres") as conn:
            rows = conn.execute(
                "SELECT pid, datname, application_name, backend_start FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY backend_start"
            ).fetchall()
    except psycopg.Error:
        return []  # the list is a courtesy: the stop goes ahead without it
    return [
        f"{app or 'a client without application_name'} on database {db} "
        f"(server process {pid}, connected since {since:%Y-%m-%d %H:%M:%S})"
        for pid, db, app, since in rows
    ]


def stop(cluster: EmbeddedCluster, timeout: float = 60) -> StopReport:
    """Stop the server (fast shutdown: open transactions are rolled back) and keep it stopped.

    A marker in the data folder makes ``ensure_ready`` refuse to start it again, so the
    next request gets a 503 rather than a silent restart; ``start()`` lifts it. The marker
    is written even when the server was not running: the operator wants it stopped.
    """
    if server_state(cluster) == "absent":
        return StopReport(was_running=False)
    with _start_lock(cluster):
        state = server_state(cluster)
        if state == "unknown":
            raise _lock_in_doubt(cluster)
        now = datetime.datetime.now().astimezone()
        cluster.stop_marker.write_text(f"at {now:%Y-%m-%d %H:%M:%S %Z}\n")
        if state not in ("ready", "starting"):
            return StopReport(was_running=False)
        connections = _client_connections(cluster) if state == "ready" else []
        # As root, the same preparation as for a start: pg_ctl runs as the server's user,
        # which must still be able to reach the data folder (a parent may have been closed).
        user = _system_user(cluster)
        _run(
            "pg_ctl",
            ["-D", str(cluster.pgdata), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
            user,
            timeout + 5,
        )
    return StopReport(was_running=True, closed_connections=connections)
