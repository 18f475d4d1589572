"""Moments in UTC, and the UTC hour they fall in: the one place that says what an "hour" is.

Stored timestamps are UTC, and hourly aggregates (monitoring's LogRollup, the charts) are
keyed by UTC hours. Flooring a datetime in its own time zone gives the wrong hour for any
zone whose offset is not a whole number of hours (+05:30, -03:30), and PostgreSQL refuses
offsets beyond ±15:59 that Python accepts, so anything that floors, compares or stores a
moment goes through ``to_utc`` first, and SQL floors with ``sql_floor_hour``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC. ValueError if it has no UTC offset (a naive datetime means
    nothing across time zones) or leaves the calendar once converted (year 1 at +01:00)."""
    if moment.tzinfo is UTC:  # the common case first: this runs per row at ingestion
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("needs a UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


def utc_problem(moment: datetime) -> str | None:
    """Why a client's moment (a filter, a body field) cannot be taken in UTC, as a message
    for a 400; None when it can. No offset is refused, as ingestion refuses it: read in the
    server's time zone it would mean another moment to every client elsewhere."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "Needs a UTC offset, e.g. 2026-11-20T10:00:00Z or +05:30."
    if 1 < moment.year < 9999:  # an offset is under a day: only the calendar's ends can overflow
        return None
    try:
        to_utc(moment)
    except ValueError:
        return "Out of range once converted to UTC."
    return None


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour ``moment`` falls in."""
    return to_utc(moment).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The first UTC hour boundary at or after ``moment``."""
    floored = floor_hour(moment)
    if floored == moment:
        return floored
    try:
        return floored + HOUR
    except OverflowError:  # within the calendar's last hour: no boundary follows
        return datetime.max.replace(tzinfo=UTC)


def sql_floor_hour(column: str) -> str:
    """SQL for ``floor_hour`` of a timestamptz column, whatever the session's time zone."""
    return f"date_trunc('hour', {column}, 'UTC')"
