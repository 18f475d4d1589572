"""The embedded PostgreSQL 16 + pgvector server used when ``DATABASE_URL`` is unset.

The server binaries come from the ``pgserver`` wheel. The cluster lives in
``<VERITAS_DATA_DIR>/postgres`` and listens only on a Unix socket, so every local
process (server, worker, tests, shell) shares it, and it keeps running between them.

This module does no work at import time. ``ensure_ready()`` is called by the
``veritas.db`` database backend when a connection fails, and by ``make`` through
``manage.py verify_database``: it initialises the cluster on first use, starts it
when it is stopped, recovers from a stale lock file left by a crash, waits out a slow
crash recovery (longer than pgserver's own 10 s start timeout), and creates the
application database. Failures raise ``EmbeddedDatabaseError`` with a message that
says what to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = ".s.PGSQL.5432"
# Unix socket paths are limited to 107 bytes on Linux (103 on macOS).
MAX_SOCKET_PATH = 100
SUPERUSER = "postgres"


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
    def socket_dir(self) -> Path:
        """Where the server puts its socket: the data folder, or /tmp when that path is too long.

        Deterministic and free of I/O, so settings can name it before the server runs.
        """
        if len(str(self.pgdata / SOCKET_NAME)) <= MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        # Fixed, not $TMPDIR: every process must agree on it.
        return Path("/tmp") / f"veritas-pg-{digest}"  # noqa: S108

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


# --- status ---------------------------------------------------------------------------


def _read_postmaster_pid(pgdata: Path) -> tuple[int, str] | None:
    """(pid, status) from postmaster.pid, or None when there is no such file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if not lines or not lines[0].strip().isdigit():
        return (0, "corrupt")
    status = lines[7].strip() if len(lines) > 7 else "starting"
    return int(lines[0]), status


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.name() == "postgres" and str(pgdata) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def server_state(cluster: EmbeddedCluster) -> str:
    """One of: 'absent' (no cluster yet), 'stopped', 'stale' (lock of a dead server), 'starting', 'ready'."""
    if not (cluster.pgdata / "PG_VERSION").exists():
        return "absent"
    info = _read_postmaster_pid(cluster.pgdata)
    if info is None:
        return "stopped"
    pid, status = info
    if not _is_our_postmaster(pid, cluster.pgdata):
        return "stale"
    return "ready" if status == "ready" else "starting"


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

    user = "pgserver"
    ensure_user_exists(user)
    cluster.pgdata.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(cluster.pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_exec = 0o055
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(user)
    os.chown(cluster.pgdata, entry.pw_uid, entry.pw_gid)
    return user


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


def _remove_stale_lock_files(cluster: EmbeddedCluster) -> None:
    """A crash (or a killed container) can leave postmaster.pid naming a pid that is now
    some other process; PostgreSQL then refuses to start. No server of ours runs, so the
    lock files are safe to remove."""
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


def _start(cluster: EmbeddedCluster, timeout: float) -> None:
    state = server_state(cluster)
    if state in ("ready", "starting"):
        _wait_until_ready(cluster, timeout)
        return
    user = _system_user(cluster)
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
    socket_dir = cluster.socket_dir
    if socket_dir != cluster.pgdata:
        socket_dir.mkdir(parents=True, exist_ok=True)
        socket_dir.chmod(0o777)
    # -W: do not wait inside pg_ctl (its own timeout would give up during a long crash
    # recovery); readiness is polled below from postmaster.pid instead.
    _run(
        "pg_ctl",
        ["-D", str(cluster.pgdata), "-W", "-l", str(cluster.log_file), "-o", f'-h "" -k {socket_dir}', "start"],
        user,
        timeout=30,
    )
    _wait_until_ready(cluster, timeout)


def _ensure_database(cluster: EmbeddedCluster, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(cluster.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True, connect_timeout=10
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_ready(cluster: EmbeddedCluster, database: str, timeout: float = 120) -> None:
    """Start the embedded server if needed and make sure ``database`` exists."""
    try:
        with _start_lock(cluster):
            _start(cluster, timeout)
            _ensure_database(cluster, database)
    except EmbeddedDatabaseError:
        raise
    except ImportError as exc:
        raise EmbeddedDatabaseError(
            f"The embedded database needs the pgserver package ({exc}). Run `make run`, or set DATABASE_URL."
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedDatabaseError(
            f"Could not start the embedded PostgreSQL server in {cluster.pgdata}: {exc}\n"
            f"Last lines of {cluster.log_file}:\n{_log_tail(cluster)}"
        ) from exc


def stop(cluster: EmbeddedCluster, timeout: float = 60) -> bool:
    """Stop the server (fast shutdown). Returns False when it was not running."""
    if server_state(cluster) not in ("ready", "starting"):
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    _run("pg_ctl", ["-D", str(cluster.pgdata), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"], user, timeout + 5)
    return True
