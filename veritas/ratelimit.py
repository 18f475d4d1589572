"""Rate limits that hold across processes: fixed-window counters in PostgreSQL.

``hit(key, [Window(limit, length), …])`` decides one request against every window of
``key`` at once (e.g. 1,000 an hour *and* 10,000 a day) with a single atomic statement: an
upsert of the key's one row, which holds a count per window. The request is admitted only
if every window has room, and only an admitted request is counted, so a client refused by
its hourly limit does not spend its daily one. The row lock serialises concurrent requests
of one key, so exactly ``limit`` are admitted however many race (unlike DRF's cache-based
throttles, a read then a write: two concurrent requests both pass; DRF issues #5181 and
#6730). Used by the API's per-user write limit (veritas.api.throttling) and research's
per-institution limits (research/throttling.py).

The counters are not flushed to disk before the answer (``synchronous_commit`` off for that
one statement): a crash of the database may forget the last fraction of a second's counts,
never corrupt them, and each request saves a WAL flush.

A fixed window lets a client spend its limit at the end of one window and again at the
start of the next (up to twice the limit within one window's time); that is the price of
one row and one statement per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from veritas.models import RateLimitCounter

TABLE = RateLimitCounter._meta.db_table

# A window whose start moved on counts from zero; ``decided`` admits the request only when
# every window has room, and every count takes the same decision.
HIT = f"""
    INSERT INTO {TABLE} AS c (key, window_starts, counts, admitted)
    SELECT %(key)s, %(starts)s::timestamptz[], array_fill(1, ARRAY[cardinality(%(starts)s::timestamptz[])]), true
    ON CONFLICT (key) DO UPDATE SET (window_starts, counts, admitted) = (
        SELECT EXCLUDED.window_starts, array_agg(current + ok::int ORDER BY i), bool_and(ok)
        FROM (
            SELECT i, current, bool_and(current < lim) OVER () AS ok
            FROM (
                SELECT l.i, l.lim,
                       CASE WHEN c.window_starts[l.i] = EXCLUDED.window_starts[l.i] THEN c.counts[l.i] ELSE 0 END
                       AS current
                FROM unnest(%(limits)s::integer[]) WITH ORDINALITY AS l(lim, i)
            ) windows
        ) decided
    )
    RETURNING counts, admitted
"""  # noqa: S608 (the table name comes from model metadata; values are parameters)


@dataclass(frozen=True)
class Window:
    limit: int  # at least 1
    length: timedelta


@dataclass(frozen=True)
class Hit:
    """The decision, and what to tell the client: the window closest to its limit."""

    allowed: bool
    count: int  # requests admitted in that window, this one included if admitted
    limit: int
    reset_at: datetime  # when that window ends
    retry_after: float  # seconds until every full window has ended (0 when admitted)

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix seconds: when the
        window ends), as GitHub's and most APIs send them."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at.timestamp())),
        }


def window_start(now: datetime, length: timedelta) -> datetime:
    """The start of the fixed window ``now`` falls in (windows are aligned to the epoch)."""
    seconds = length.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=now.tzinfo)


def without_flush(statement: str) -> tuple[str, bool]:
    """``statement`` committed without waiting for the WAL flush, when it is its own
    transaction: ``SET LOCAL synchronous_commit = off`` goes in front, in the same query string
    (one round trip, one implicit transaction). Inside an atomic block the SET would hold for
    every other write of that transaction: the statement goes alone. Returns the query and
    whether the caller must skip the SET's result (``cursor.nextset()``)."""
    if connection.in_atomic_block:
        return statement, False
    return "SET LOCAL synchronous_commit = off; " + statement, True


def _array(items) -> str:
    return "{" + ",".join(items) + "}"


def hit(key: str, windows: Sequence[Window], *, now: datetime | None = None) -> Hit:
    if not windows or any(window.limit < 1 for window in windows):
        raise ValueError("hit() needs at least one window, each with a limit of at least 1")
    now = now or timezone.now()
    starts = [window_start(now, window.length) for window in windows]
    windows_limits = (str(window.limit) for window in windows)
    with connection.cursor() as cursor:
        query, skip = without_flush(HIT)
        cursor.execute(
            query,
            # Arrays as literals: psycopg's list adaptation costs a tenth of a millisecond here.
            {"key": key, "starts": _array(start.isoformat() for start in starts), "limits": _array(windows_limits)},
        )
        if skip:
            cursor.nextset()
        counts, allowed = cursor.fetchone()
    ends = [start + window.length for start, window in zip(starts, windows, strict=True)]
    # The binding window: the fewest requests left (the shorter one on a tie).
    binding = min(range(len(windows)), key=lambda i: (windows[i].limit - counts[i], windows[i].length))
    full = [end for end, count, window in zip(ends, counts, windows, strict=True) if count >= window.limit]
    retry_after = 0.0 if allowed else max((max(full) - now).total_seconds(), 0.0)
    return Hit(
        allowed=allowed,
        count=counts[binding],
        limit=windows[binding].limit,
        reset_at=ends[binding],
        retry_after=retry_after,
    )
