"""Helpers for the tests of the embedded server, each on a cluster of its own."""

import psycopg
from django.db import connection

from veritas import embedded
from veritas.db.base import DatabaseWrapper


def select_one(cluster: embedded.EmbeddedCluster, dbname: str = "demo") -> int:
    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname=dbname, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def set_status(cluster: embedded.EmbeddedCluster, status: str, line: int = 7) -> None:
    """Rewrite one line of postmaster.pid (7: the status, 4: the socket folder)."""
    lock = cluster.pgdata / "postmaster.pid"
    lines = lock.read_text().splitlines()
    lines[line] = status
    lock.write_text("\n".join(lines) + "\n")


def backend_for(cluster: embedded.EmbeddedCluster, **overrides) -> DatabaseWrapper:
    """Veritas's database backend, configured as the settings do for ``cluster``."""
    settings_dict = {
        **connection.settings_dict,
        "OPTIONS": dict(connection.settings_dict["OPTIONS"]),
        **cluster.django_settings("demo"),
        **overrides,
    }
    return DatabaseWrapper(settings_dict, alias="embedded-test")


def connect_through_backend(cluster: embedded.EmbeddedCluster, **overrides):
    """A new connection the way Django makes one (start-on-demand included)."""
    backend = backend_for(cluster, **overrides)
    return backend.get_new_connection(backend.get_connection_params())
