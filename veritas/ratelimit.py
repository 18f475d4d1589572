"""Rate limits that hold across processes: a fixed-window counter in PostgreSQL.

``hit(key, limit, window)`` counts one request against ``key`` in the current window with a
single atomic statement (an upsert that also deletes the key's older windows) and says
whether it is within the limit. Unlike DRF's cache-based throttles (a read, then a write:
two concurrent requests both pass; see DRF issues #5181 and #6730), no two requests can
both take the last unit. Used by the API's per-user write limit
(veritas.api.throttling) and meant for research's per-institution limits.

A fixed window lets a client spend its limit at the end of one window and again at the
start of the next (up to twice the limit within one window's time); that is the price of
one row and one statement per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from veritas.models import RateLimitCounter

TABLE = RateLimitCounter._meta.db_table

HIT = f"""
    WITH older AS (
        DELETE FROM {TABLE} WHERE key = %(key)s AND window_start < %(window_start)s
    )
    INSERT INTO {TABLE} (key, window_start, count) VALUES (%(key)s, %(window_start)s, 1)
    ON CONFLICT (key, window_start) DO UPDATE SET count = {TABLE}.count + 1
    RETURNING count
"""  # noqa: S608 (the table name comes from model metadata; values are parameters)


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int
    limit: int
    retry_after: float  # seconds until the window ends (when not allowed)


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window ``now`` falls in (windows are aligned to the epoch)."""
    seconds = window.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=now.tzinfo)


def hit(key: str, *, limit: int, window: timedelta, now: datetime | None = None) -> Hit:
    now = now or timezone.now()
    start = window_start(now, window)
    with connection.cursor() as cursor:
        cursor.execute(HIT, {"key": key, "window_start": start})
        count = cursor.fetchone()[0]
    retry_after = (start + window - now).total_seconds()
    return Hit(allowed=count <= limit, count=count, limit=limit, retry_after=max(retry_after, 0.0))
