"""Writes of the monitoring app: health evaluation (and, in ingest.py, log ingestion).

Health of a component (a log source) comes from its error rate, (error + critical) /
all logs, over a sliding window. A worse status is adopted only once the condition has
persisted for DEBOUNCE_MINUTES, measured in time, not in evaluations: running the
evaluation more often does not confirm a blip sooner, and a gap between evaluations
longer than the window (logs nobody looked at) restarts the wait. A better status, and
UNKNOWN for a source silent for SILENCE_MINUTES, are adopted at once. Severity always
describes the status it accompanies: 0 for a source that is not judged (silent, or too
few logs), and it changes only when the status is confirmed. A HealthTransition row is
written only when a status changes. Thresholds: settings.MONITORING_HEALTH.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from monitoring import selectors
from monitoring.models import (
    HealthTransition,
    Level,
    LogRollup,
    MonitoringLog,
    MonitoringResult,
    Status,
    SystemHealth,
)
from veritas.utc import sql_floor_hour


@dataclass(frozen=True)
class Thresholds:
    window_minutes: int
    warning_error_rate: float
    critical_error_rate: float
    min_logs: int
    debounce_minutes: int
    silence_minutes: int

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(**{key.lower(): value for key, value in settings.MONITORING_HEALTH.items()})

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Assessment:
    status: Status
    severity: float
    reason: str


def assess(counts: dict[str, int], last_received: datetime | None, now: datetime, t: Thresholds) -> Assessment:
    """The status one window of logs proposes, with a severity that means the same thing:
    0 when the source is not judged (silent, or too few logs to say), else the error rate
    relative to the critical rate, capped at 1 (so NORMAL < w/c <= WARNING < 1 = CRITICAL)."""
    total = sum(counts.values())
    errors = counts.get(Level.ERROR, 0) + counts.get(Level.CRITICAL, 0)
    if last_received is None or now - last_received > timedelta(minutes=t.silence_minutes):
        return Assessment(Status.UNKNOWN, 0.0, f"no logs for more than {t.silence_minutes} min")
    rate = errors / total if total else 0.0
    summary = (
        f"{errors} error{pluralize(errors)} in {total} log{pluralize(total)} ({rate:.1%}) over {t.window_minutes} min"
    )
    if total < t.min_logs:
        return Assessment(Status.NORMAL, 0.0, f"{summary}: fewer than {t.min_logs} logs, not judged")
    severity = round(min(1.0, rate / t.critical_error_rate), 4) if t.critical_error_rate else 1.0
    if rate >= t.critical_error_rate:
        return Assessment(Status.CRITICAL, severity, f"{summary} ≥ {t.critical_error_rate:.0%}")
    if rate >= t.warning_error_rate:
        return Assessment(Status.WARNING, severity, f"{summary} ≥ {t.warning_error_rate:.0%}")
    return Assessment(Status.NORMAL, severity, summary)


def apply_assessment(
    health: SystemHealth,
    proposal: Assessment,
    now: datetime,
    t: Thresholds,
    since_streak: Callable[[datetime], Assessment] | None = None,
) -> str | None:
    """Advance ``health``'s state machine (unsaved). Returns the old status if it changed.

    A worse proposal starts (or continues) a pending streak; it is confirmed once the
    streak has lasted ``debounce_minutes``. What is confirmed is what persisted: the least
    severe proposal of the streak (WARNING then CRITICAL for five minutes each confirms
    WARNING). The streak restarts when the previous evaluation is more than a window
    ago, since the logs in between were never looked at.

    ``since_streak(start)`` assesses only the logs from ``start`` to now. Each evaluation
    looks back a whole window, so one burst of errors is proposed by every evaluation
    until it leaves the window, longer than the debounce time when that is the shorter:
    before confirming, the logs since the streak began must propose a worse status on
    their own. If they do not, the streak starts again now (the burst was a blip).
    """
    previous_evaluation, health.evaluated_at = health.evaluated_at, now
    current = Status(health.status)
    if proposal.status == current:
        health.severity, health.reason = proposal.severity, proposal.reason
        _clear_pending(health)
        return None
    escalating = Status.rank(proposal.status) > Status.rank(current) and proposal.status != Status.UNKNOWN
    if not escalating:
        health.status, health.severity, health.reason, health.since = (
            proposal.status,
            proposal.severity,
            proposal.reason,
            now,
        )
        _clear_pending(health)
        return current
    continuing = (
        health.pending_status
        and health.pending_since is not None
        and now - previous_evaluation <= timedelta(minutes=t.window_minutes)
    )
    if not continuing:
        health.pending_status, health.pending_severity, health.pending_since = (
            proposal.status,
            proposal.severity,
            now,
        )
    elif proposal.severity < health.pending_severity:
        health.pending_status, health.pending_severity = proposal.status, proposal.severity
    pending_for = now - health.pending_since
    if pending_for < timedelta(minutes=t.debounce_minutes):
        # Status and severity stay those of the current status until it is confirmed.
        health.reason = (
            f"{proposal.reason}; {health.pending_status} pending for "
            f"{pending_for.total_seconds() / 60:.0f} of {t.debounce_minutes} min"
        )
        return None
    if since_streak is not None:
        persisted = since_streak(health.pending_since)
        if Status.rank(persisted.status) <= Status.rank(current) or persisted.status == Status.UNKNOWN:
            health.pending_status, health.pending_severity, health.pending_since = (
                proposal.status,
                proposal.severity,
                now,
            )
            health.reason = (
                f"{proposal.reason}; {proposal.status} pending again: the logs since it was first "
                f"proposed {pending_for.total_seconds() / 60:.0f} min ago are {persisted.status}"
            )
            return None
        if persisted.severity < health.pending_severity:
            health.pending_status, health.pending_severity = persisted.status, persisted.severity
    confirmed = Status(health.pending_status)
    health.status, health.severity, health.since = confirmed, health.pending_severity, now
    health.reason = (
        proposal.reason
        if confirmed == proposal.status
        else f"{confirmed} for {t.debounce_minutes} min; now {proposal.reason}"
    )
    _clear_pending(health)
    return current


def _clear_pending(health: SystemHealth) -> None:
    health.pending_status, health.pending_severity, health.pending_since = "", None, None


@dataclass(frozen=True)
class Evaluation:
    results: list[MonitoringResult]
    transitions: list[HealthTransition]


def evaluate_health(*, now: datetime | None = None) -> Evaluation:
    """Evaluate every component once; safe to run concurrently (rows are locked)."""
    now = now or timezone.now()
    t = Thresholds.from_settings()
    window_start = now - timedelta(minutes=t.window_minutes)
    results, transitions = [], []
    with transaction.atomic():
        components = set(selectors.known_sources()) | set(SystemHealth.objects.values_list("component", flat=True))
        for component in sorted(components):
            health, _created = SystemHealth.objects.select_for_update().get_or_create(component=component)
            last_received = selectors.last_received(component)
            if health.status == Status.RETIRED:
                if last_received is None or last_received <= health.since:
                    continue  # retired, and silent since: not evaluated
                # It sends logs again: back to UNKNOWN, then judged like any other.
                reason = f"logs received again at {last_received:%Y-%m-%d %H:%M} UTC"
                transitions.append(_transition(health, Status.UNKNOWN, reason, now))
            counts = selectors.level_counts(component, window_start, now)
            proposal = assess(counts, last_received, now, t)
            total = sum(counts.values())
            errors = counts[Level.ERROR] + counts[Level.CRITICAL]
            results.append(
                MonitoringResult(
                    source=component,
                    window_start=window_start,
                    window_end=now,
                    counts=counts,
                    total=total,
                    error_rate=errors / total if total else 0.0,
                    severity=proposal.severity,
                    status=proposal.status,
                    thresholds=t.as_dict(),
                    evaluated_at=now,
                )
            )
            old = apply_assessment(
                health,
                proposal,
                now,
                t,
                since_streak=lambda start, c=component, seen=last_received: assess(
                    selectors.level_counts(c, start, now), seen, now, t
                ),
            )
            health.save()
            if old is not None:
                transitions.append(_record(health, old, now))
        MonitoringResult.objects.bulk_create(results)
        HealthTransition.objects.bulk_create(transitions)
    return Evaluation(results=results, transitions=transitions)


def _transition(health: SystemHealth, status: Status, reason: str, now: datetime) -> HealthTransition:
    """Move ``health`` (unsaved) to ``status`` outside the assessment state machine, and
    the unsaved transition that records it."""
    old = health.status
    health.status, health.severity, health.reason, health.since = status, 0.0, reason, now
    _clear_pending(health)
    return _record(health, old, now)


def _record(health: SystemHealth, old_status: str, now: datetime) -> HealthTransition:
    return HealthTransition(
        component=health.component,
        old_status=old_status,
        new_status=health.status,
        severity=health.severity,
        reason=health.reason,
        at=now,
    )


def health_retire(*, component: str, by=None, now: datetime | None = None) -> SystemHealth:
    """Retire a component that no longer exists (decommissioned, a misspelled source): it
    leaves the overall status and is no longer evaluated, until it sends logs again.
    Recorded as a transition; retiring a retired component changes nothing.
    Raises SystemHealth.DoesNotExist for an unknown component."""
    now = now or timezone.now()
    with transaction.atomic():
        health = SystemHealth.objects.select_for_update().get(component=component)
        if health.status == Status.RETIRED:
            return health
        reason = f"retired by {by.get_username()}" if by is not None else "retired"
        transition = _transition(health, Status.RETIRED, reason, now)
        health.save(
            update_fields=[
                "status",
                "severity",
                "reason",
                "since",
                "pending_status",
                "pending_severity",
                "pending_since",
            ]
        )
        transition.save()
    return health


def overall_status(components) -> tuple[Status, float]:
    """The worst status of the components that are not retired, and the highest severity of
    those that are judged (legacy get_current_health_status). With no judged component the
    severity is 0: a source nobody judged says nothing about how bad things are."""
    active = [c for c in components if c.status != Status.RETIRED]
    return (
        Status.worst(c.status for c in active),
        max((c.severity for c in active if c.status != Status.UNKNOWN), default=0.0),
    )


# --- retention ------------------------------------------------------------------------------

LOGS, ROLLUP = MonitoringLog._meta.db_table, LogRollup._meta.db_table

# One batch: delete the oldest rows before the cutoff and take them off the rollup, in
# one statement (so in one short transaction).
PRUNE_BATCH = f"""
    WITH doomed AS (
        SELECT id FROM {LOGS} WHERE timestamp < %s ORDER BY timestamp LIMIT %s
    ), deleted AS (
        DELETE FROM {LOGS} l USING doomed d WHERE l.id = d.id RETURNING l.source, l.level, l.timestamp
    ), per_hour AS (
        SELECT source, level, {sql_floor_hour("timestamp")} AS hour, count(*) AS count
        FROM deleted GROUP BY 1, 2, 3
    ), updated AS (
        UPDATE {ROLLUP} r SET count = r.count - p.count FROM per_hour p
        WHERE r.source = p.source AND r.level = p.level AND r.hour = p.hour
        RETURNING r.id
    )
    SELECT coalesce(sum(count), 0)::bigint FROM per_hour
"""  # noqa: S608 (table names come from model metadata)


@dataclass(frozen=True)
class PruneReport:
    logs: int
    results: int


def prune(*, older_than: datetime, batch_size: int = 10_000, dry_run: bool = False) -> PruneReport:
    """Delete logs (and evaluation results) older than ``older_than``, a batch per
    transaction, so no lock is held for long and ingestion goes on meanwhile. The
    statistics stay exact: each batch decrements the rollup it counted in."""
    if dry_run:
        return PruneReport(
            logs=selectors.statistics(until=older_than).total,
            results=MonitoringResult.objects.filter(evaluated_at__lt=older_than).count(),
        )
    logs = results = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(PRUNE_BATCH, [older_than, batch_size])
            deleted = cursor.fetchone()[0]
        logs += deleted
        if deleted < batch_size:
            break
    LogRollup.objects.filter(count=0).delete()
    while True:
        ids = list(
            MonitoringResult.objects.filter(evaluated_at__lt=older_than).values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        results += MonitoringResult.objects.filter(id__in=ids).delete()[0]
    return PruneReport(logs=logs, results=results)
