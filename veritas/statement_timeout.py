"""A statement timeout for the database connections of web processes.

A pathological filter must not hold a connection (and a gunicorn worker) for minutes. Web
processes (veritas/wsgi.py and asgi.py call ``mark_web_process``) set PostgreSQL's
``statement_timeout`` on each new connection to DB_STATEMENT_TIMEOUT_SECONDS; a statement
that runs longer is cancelled and the request answers 503 (``statement_timeout``).
Management commands and task workers are not web processes: imports, pruning and
migrations may run as long as they need.
"""

from django.conf import settings

_web_process = False


def mark_web_process() -> None:
    global _web_process
    _web_process = True


def apply(sender, connection, **kwargs) -> None:
    """connection_created receiver (one statement per new connection, not per request)."""
    seconds = settings.DB_STATEMENT_TIMEOUT_SECONDS
    if _web_process and seconds > 0 and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{round(seconds * 1000)}ms"])
