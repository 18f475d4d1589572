"""pgvector in raw SQL: ``registered()`` makes the current connection send and receive
``vector`` values as numpy arrays (binary COPY included), once per connection. The ORM's
VectorField needs none of this; code that writes or reads vectors with a cursor calls it."""

import contextlib
import weakref

import psycopg
from django.db import connection
from pgvector.psycopg import register_vector

_done: "weakref.WeakSet" = weakref.WeakSet()


def registered():
    """The current connection, with pgvector's types registered."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _done:
        register_vector(raw)
        _done.add(raw)
    return connection


@contextlib.contextmanager
def local_setting(cursor, name: str, value: str):
    """A server setting (e.g. ``hnsw.ef_search``) for the statements inside, in a transaction
    (or savepoint) of their own. SET LOCAL alone would outlive a savepoint and stay set for
    the rest of an enclosing transaction; the previous value is put back here."""
    cursor.execute("SELECT current_setting(%s, true)", [name])
    previous = cursor.fetchone()[0]
    cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    try:
        yield
    finally:
        if previous is not None:
            cursor.execute("SELECT set_config(%s, %s, true)", [name, previous])


def binary_cursor() -> psycopg.Cursor:
    """A cursor of the current connection that binds parameters on the server, so that a
    ``%b`` numpy vector travels in pgvector's binary format. Django's cursors inline
    parameters as text: a 384-value query vector is then printed and parsed back, about
    1 ms a search (docs/research.md). Use it in a ``with`` block."""
    return psycopg.Cursor(registered().connection)


def with_setting(cursor: psycopg.Cursor, name: str, value: str, query: str, params) -> list[tuple]:
    """The rows of ``query``, run with a server setting (e.g. ``hnsw.ef_search``) sent in
    the same round trip (a pipeline). The setting is the session's from then on: callers
    that depend on one set it each time, as here."""
    with cursor.connection.pipeline():
        cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
        cursor.execute(query, params)
    return cursor.fetchall()
