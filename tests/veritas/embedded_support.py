"""Helpers for the tests of the embedded server, each on a cluster of its own."""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.db import connection

from veritas import embedded
from veritas.db.base import DatabaseWrapper


@contextmanager
def own_cluster(name: str, data_dir: str = "data") -> Iterator[embedded.EmbeddedCluster]:
    """A cluster in a new folder under /tmp, stopped and removed afterwards.

    Not under pytest's /tmp/pytest-of-<user>: pytest closes that folder again (0700) whenever
    another session starts, and under root the server runs as pgserver, which must reach
    its data folder at every start and stop.
    """
    base = Path(tempfile.mkdtemp(prefix=f"veritas-test-{name}-"))
    cluster = embedded.cluster_for(base / data_dir)
    try:
        yield cluster
    finally:
        embedded.stop(cluster)
        shutil.rmtree(base, ignore_errors=True)


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
