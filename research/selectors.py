"""Reads of the research data that need more than a queryset: an institution's API usage per
day and per route (from UsageMetrics, counted per institution, route and UTC day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from research.models import Institution, UsageMetrics

USAGE_DAYS = 90  # the admin's default period: as long as retention keeps usage rows


@dataclass(frozen=True, kw_only=True)
class Counts:
    requests: int = 0
    errors: int = 0
    total_ms: float = 0.0

    @property
    def error_rate(self) -> float | None:
        """Errors (status 400 or above) per request; None without requests."""
        return self.errors / self.requests if self.requests else None

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.requests if self.requests else None


@dataclass(frozen=True, kw_only=True)
class DayUsage(Counts):
    day: date


@dataclass(frozen=True, kw_only=True)
class RouteUsage(Counts):
    route: str
    max_ms: float = 0.0


@dataclass(frozen=True)
class UsageReport:
    first: date
    last: date
    days: list[DayUsage]  # every day of [first, last], ascending; a day without requests counts zero
    routes: list[RouteUsage]  # the routes called in the period, most requested first
    total: Counts


def utc_today() -> date:
    """The current UTC day: usage rows are keyed by UTC days (research/audit.py)."""
    return timezone.now().astimezone(UTC).date()


def institution_usage(
    institution: Institution | int, *, days: int = USAGE_DAYS, today: date | None = None
) -> UsageReport:
    """The institution's usage over the ``days`` UTC days up to ``today`` (included): per day
    across routes, and per route over the whole period. Two queries whatever the number of
    days and routes, both served by the (institution, day, route) unique index."""
    if days < 1:
        raise ValueError("days must be at least 1")
    last = today or utc_today()
    first = last - timedelta(days=days - 1)
    rows = UsageMetrics.objects.filter(institution=institution, day__range=(first, last))
    per_day = {
        row["day"]: row
        for row in rows.values("day")
        .annotate(requests=Sum("requests"), errors=Sum("errors"), total_ms=Sum("total_ms"))
        .order_by("day")
    }
    calendar = (first + timedelta(days=offset) for offset in range(days))
    daily = [DayUsage(**per_day.get(day, {"day": day})) for day in calendar]
    routes = [
        RouteUsage(**row)
        for row in rows.values("route")
        .annotate(requests=Sum("requests"), errors=Sum("errors"), total_ms=Sum("total_ms"), max_ms=Max("max_ms"))
        .order_by("-requests", "route")
    ]
    total = Counts(
        requests=sum(d.requests for d in daily),
        errors=sum(d.errors for d in daily),
        total_ms=sum(d.total_ms for d in daily),
    )
    return UsageReport(first=first, last=last, days=daily, routes=routes, total=total)
