"""pgvector in raw SQL: ``registered()`` makes the current connection send and receive
``vector`` values as numpy arrays (binary COPY included), once per connection. The ORM's
VectorField needs none of this; code that writes or reads vectors with a cursor calls it."""

import contextlib
import weakref

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
