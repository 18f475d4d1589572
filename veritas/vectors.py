"""pgvector in raw SQL: ``registered()`` makes the current connection send and receive
``vector`` values as numpy arrays (binary COPY included), once per connection. The ORM's
VectorField needs none of this; code that writes or reads vectors with a cursor calls it."""

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
