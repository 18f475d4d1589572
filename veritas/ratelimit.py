"""Rate limits that hold across processes: fixed-window counters in PostgreSQL.

``hit(key, [Window(limit, length), …])`` decides one request against every window of
``key`` at once (e.g. 1,000 an hour *and* 10,000 a day) with a single atomic statement: an
upsert of the key's one row, which holds a count per window (the PL/pgSQL function
``veritas_rate_limit_hit``, written out in migration veritas 0006). The request is admitted only
if every window has room, and only an admitted request is counted, so a client refused by
its hourly limit does not spend its daily one. The row lock serialises concurrent requests
of one key, so exactly ``limit`` are admitted however many race (unlike DRF's cache-based
throttles, a read then a write: two concurrent requests both pass; DRF issues #5181 and
#6730). Used by the API's per-user write limit (veritas.api.throttling) and research's
per-institution limits (research/auth.py).

The counters are not flushed to disk before the answer (``synchronous_commit`` off for that
one statement, when it is its own transaction): a crash of the database may forget the last
fraction of a second's counts, never corrupt them, and each request saves a WAL flush.

A fixed window lets a client spend its limit at the end of one window and again at the
start of the next (up to twice the limit within one window's time); that is the price of
one row and one statement per request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

FUNCTION = "veritas_rate_limit_hit"  # written out in migration veritas 0006


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


def _array(items) -> str:
    # Arrays as literals: psycopg's list adaptation costs a tenth of a millisecond here.
    return "{" + ",".join(items) + "}"


def _starts(lengths: Sequence[timedelta], now: datetime) -> str:
    return _array(window_start(now, length).isoformat() for length in lengths)


def commits_alone(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a statement run now on ``using`` is its own transaction (autocommit, no atomic
    block or transaction opened by hand), and so may commit without waiting for the WAL flush:
    inside a transaction, ``SET LOCAL synchronous_commit = off`` would hold for every other write
    of it. The rate-limit count and research's audit entry ask this."""
    return connections[using].get_autocommit()


def _check(windows: Sequence[Window]) -> None:
    if not windows or any(window.limit < 1 for window in windows):
        raise ValueError("a rate limit needs at least one window, each with a limit of at least 1")


def counting(
    key_sql: str, limits_sql: str, lengths: Sequence[timedelta], now: datetime, *, using: str = DEFAULT_DB_ALIAS
) -> tuple[str, dict]:
    """A request counted at ``now``, as a scalar subquery of a statement on ``using``, and its
    parameters: e.g. in the statement that reads a key, so that one round trip finds the key
    and counts its request. ``key_sql`` (text) and ``limits_sql`` (``integer[]``, one limit per
    window of ``lengths``) may be columns of that statement. Its value is jsonb (as text, the
    way Django's connections load it) for ``decide``. Inside a ``CASE WHEN``, only what the
    condition admits is counted."""
    # The caller's own SQL fragments (columns, placeholders); values are parameters.
    call = (
        f"{FUNCTION}(({key_sql})::text, %(rate_starts)s::timestamptz[], ({limits_sql})::integer[],"
        " %(rate_async_commit)s::boolean)"
    )
    params = {"rate_starts": _starts(lengths, now), "rate_async_commit": commits_alone(using)}
    return f"(SELECT to_jsonb(h) FROM {call} h)", params  # noqa: S608


def hit(key: str, windows: Sequence[Window], *, now: datetime | None = None) -> Hit:
    """Count one request of ``key`` against ``windows``: one statement."""
    _check(windows)
    now = now or timezone.now()
    count, params = counting("%(rate_key)s", "%(rate_limits)s", [window.length for window in windows], now)
    params |= {"rate_key": key, "rate_limits": _array(str(window.limit) for window in windows)}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {count}", params)
        (counted,) = cursor.fetchone()
    return decide(windows, counted, now)


def decide(windows: Sequence[Window], counted: str, now: datetime) -> Hit:
    """The Hit of ``counting``'s value for a request counted at ``now``: its decision, and the
    window closest to its limit."""
    result = json.loads(counted)
    counts, admitted = result["counts"], result["admitted"]
    ends = [window_start(now, window.length) + window.length for window in windows]
    # The binding window: the fewest requests left (the shorter one on a tie).
    binding = min(range(len(windows)), key=lambda i: (windows[i].limit - counts[i], windows[i].length))
    full = [end for end, count, window in zip(ends, counts, windows, strict=True) if count >= window.limit]
    retry_after = 0.0 if admitted else max((max(full) - now).total_seconds(), 0.0)
    return Hit(
        allowed=admitted,
        count=counts[binding],
        limit=windows[binding].limit,
        reset_at=ends[binding],
        retry_after=retry_after,
    )
