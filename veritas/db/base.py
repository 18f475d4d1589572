import os
import sys
from pathlib import Path

from django.conf import settings
from django.db.backends.postgresql import base

from veritas import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL backend that starts the embedded server when a connection finds none.

    A running server costs nothing extra: the start-up path runs only after a failed
    connection, then the connection is tried once more. Only "no server there" (the socket
    missing, or refusing connections) starts it; any failure of a server that answered
    (authentication, too many clients, starting up or shutting down, the wrong OS user
    behind the socket) is raised at once. When the server cannot be made ready, or was
    stopped with ``make db-stop``, the error is an ``OperationalError`` (the API answers
    503) whose message says what to do.
    """

    def get_connection_params(self):
        params = super().get_connection_params()
        # libpq checks that the process behind the socket runs as the server's OS user, so
        # no other local user can pose as the database (e.g. through a socket folder in /tmp).
        if peer := embedded.server_user():
            params.setdefault("requirepeer", peer)
        # Names this process in pg_stat_activity: `make db-stop` lists whom it disconnects.
        params.setdefault("application_name", _application_name())
        return params

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError as exc:
            cluster = embedded.cluster_for(self.settings_dict["EMBEDDED_DATA_DIR"])
            dbname = conn_params.get("dbname") or "postgres"
            if not _start_would_help(cluster, dbname, exc):
                raise
            try:
                embedded.ensure_ready(cluster, dbname, timeout=settings.VERITAS_DB_START_TIMEOUT)
            except embedded.EmbeddedDatabaseError as error:
                raise base.Database.OperationalError(str(error)) from error
            return super().get_new_connection(conn_params)


def _start_would_help(cluster: embedded.EmbeddedCluster, dbname: str, exc: Exception) -> bool:
    """No server there, or one that lacks only the database (``ensure_ready`` creates it,
    without waiting: the server is up). libpq's connect errors carry no SQLSTATE, so the
    socket is probed instead of parsing messages; the server's own messages are English
    (initdb ran with --locale=C)."""
    if embedded.no_server_listening(cluster):
        return True
    return f'database "{dbname}" does not exist' in str(exc)


def _application_name() -> str:
    """``veritas pid 4242: manage.py runserver``, within PostgreSQL's 63 bytes.

    Not cached: a forked worker (gunicorn) must name its own pid.
    """
    words = sys.orig_argv[1:3]
    if words:
        words[0] = Path(words[0]).name
    return f"veritas pid {os.getpid()}: {' '.join(words)}"[:63]
