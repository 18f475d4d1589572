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
    yield
    # Not after an error: the statement failed, the transaction (or savepoint) is aborted and
    # its rollback undoes the setting; a statement here would only hide the error.
    if previous is not None:
        cursor.execute("SELECT set_config(%s, %s, true)", [name, previous])


def binary_cursor() -> psycopg.Cursor:
    """A cursor of the current connection that binds parameters on the server, so that a
    ``%b`` numpy vector travels in pgvector's binary format. Django's cursors inline
    parameters as text: a 384-value query vector is then printed and parsed back, about
    1 ms a search (docs/research.md). Use it in a ``with`` block."""
    return psycopg.Cursor(registered().connection)


# Settings made for a connection's session (outside any transaction, so no rollback can undo
# them), by connection: with_setting sends one again only when it changes.
_session: "weakref.WeakKeyDictionary[psycopg.Connection, dict[str, str]]" = weakref.WeakKeyDictionary()


def with_setting(cursor: psycopg.Cursor, name: str, value: str, query: str, params) -> list[tuple]:
    """The rows of ``query``, run with a server setting (e.g. ``hnsw.ef_search``). Outside a
    transaction the setting is made for the session, once while it stays the same (a search
    is then one statement: 0.2 ms less a search, docs/research.md); inside one, where a
    rollback would undo it, it goes with the query each time, in the same round trip (a
    pipeline). Either way it stays the session's afterwards: callers that depend on a value
    set it each time, as here."""
    raw = cursor.connection
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if idle and not connection.in_atomic_block:  # Django opens its transactions lazily
        known = _session.setdefault(raw, {})
        if known.get(name) != value:
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
            known[name] = value
        cursor.execute(query, params)
        return cursor.fetchall()
    _session.pop(raw, None)  # a rollback may undo this one: forget what the session has
    with raw.pipeline():
        cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
        cursor.execute(query, params)
    return cursor.fetchall()
