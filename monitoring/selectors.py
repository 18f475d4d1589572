"""Reads over the logs: statistics that stay fast and exact at tens of millions of rows.

Counts come from LogRollup (one row per source, level and hour) for whole hours, and from
the log table itself only for the partial hours at the edges of a since/until range, so
a statistics request reads a few thousand rows whatever the table's size. "Total" is the
number of logs stored now: pruned logs are no longer counted (pruning decrements the
rollup in its own transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from monitoring.models import Level, LogRollup, MonitoringLog
from veritas.utc import ceil_hour, floor_hour, sql_floor_hour, to_utc

LOGS = MonitoringLog._meta.db_table
ROLLUP = LogRollup._meta.db_table


@dataclass
class Statistics:
    total: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    oldest: datetime | None = None
    newest: datetime | None = None
    hourly: list[dict] | None = None


def _where(sources=None, levels=None, column=None, start=None, end=None) -> tuple[str, list]:
    """A WHERE clause (or "") and its parameters: sources, levels, ``start <= column < end``."""
    clauses, params = [], []
    for condition, value in (
        ("source = ANY(%s)", list(sources) if sources else None),
        ("level = ANY(%s)", list(levels) if levels else None),
        (f"{column} >= %s", start),
        (f"{column} < %s", end),
    ):
        if value is not None:
            clauses.append(condition)
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _counted_sql(sources, levels, since, until) -> tuple[str, list]:
    """SQL yielding (source, level, hour, count) for logs in [since, until), exactly."""
    parts, all_params = [], []

    def rollup(start, end):
        where, params = _where(sources, levels, "hour", start, end)
        parts.append(f"SELECT source, level, hour, count FROM {ROLLUP}{where}")  # noqa: S608 (model table)
        all_params.extend(params)

    def raw(start, end):
        where, params = _where(sources, levels, "timestamp", start, end)
        # Named like the rollup's columns: this part may be the only one of the UNION.
        parts.append(
            f"SELECT source, level, {sql_floor_hour('timestamp')} AS hour, count(*) AS count "  # noqa: S608
            f"FROM {LOGS}{where} GROUP BY 1, 2, 3"
        )
        all_params.extend(params)

    full_start = ceil_hour(since) if since is not None else None
    full_end = floor_hour(until) if until is not None else None
    if full_start is not None and full_end is not None and full_start >= full_end:
        raw(since, until)  # the whole range lies within one hour (or two partial ones)
    else:
        rollup(full_start, full_end)
        if since is not None and since < full_start:
            raw(since, full_start)
        if until is not None and full_end < until:
            raw(full_end, until)
    return " UNION ALL ".join(parts), all_params


def statistics(
    *,
    sources: list[str] | None = None,
    levels: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    hourly: bool = False,
    bounds: bool = True,
) -> Statistics:
    """Counts of logs with ``since <= timestamp < until`` (either bound optional, in any
    time zone: they are taken in UTC, as the rollup's hours are; an ``until`` at or before
    ``since`` is an empty range). ``bounds=False`` skips the oldest/newest query when only
    counts are wanted."""
    since = to_utc(since) if since is not None else None
    until = to_utc(until) if until is not None else None
    if since is not None and until is not None and until <= since:
        return Statistics(by_level=dict.fromkeys(Level.values, 0), hourly=[] if hourly else None)
    counted, params = _counted_sql(sources, levels, since, until)
    stats = Statistics(by_level=dict.fromkeys(Level.values, 0))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source, level, sum(count)::bigint FROM ({counted}) c GROUP BY 1, 2 HAVING sum(count) > 0",  # noqa: S608
            params,
        )
        for source, level, count in cursor.fetchall():
            stats.total += count
            stats.by_level[level] += count
            stats.by_source[source] = stats.by_source.get(source, 0) + count
        if hourly:
            cursor.execute(
                f"SELECT hour, level, sum(count)::bigint FROM ({counted}) c "  # noqa: S608
                "GROUP BY 1, 2 HAVING sum(count) > 0 ORDER BY 1",
                params,
            )
            buckets: dict[datetime, dict] = {}
            for hour, level, count in cursor.fetchall():
                bucket = buckets.setdefault(hour, {"hour": hour, **dict.fromkeys(Level.values, 0)})
                bucket[level] = count
            stats.hourly = list(buckets.values())
        if stats.total and bounds:
            where, where_params = _where(sources, levels, "timestamp", since, until)
            # Served by the (…, timestamp) indexes' endpoints.
            cursor.execute(f"SELECT min(timestamp), max(timestamp) FROM {LOGS}{where}", where_params)  # noqa: S608
            stats.oldest, stats.newest = cursor.fetchone()
    stats.by_source = dict(sorted(stats.by_source.items()))
    return stats


def level_counts(source: str, since: datetime, until: datetime) -> dict[str, int]:
    """Exact logs per level of one source in [since, until) (health evaluation's window)."""
    return statistics(sources=[source], since=since, until=until, bounds=False).by_level


def known_sources() -> list[str]:
    """Every source that has logs stored (from the rollup: no scan of the logs)."""
    return list(LogRollup.objects.filter(count__gt=0).values_list("source", flat=True).distinct().order_by("source"))


def last_received(source: str) -> datetime | None:
    """When the newest stored log of a source was received, by the server's clock (index
    endpoint of monrollup_src_received_idx). Not the logs' own timestamps: a client clock
    set in the future must not keep a silent source alive."""
    return (
        LogRollup.objects.filter(source=source)
        .order_by("-last_received_at")
        .values_list("last_received_at", flat=True)
        .first()
    )
