"""Background work of the monitoring app (django-tasks-db, run by `make worker`): the
periodic health evaluation, a chain of tasks that a failure or a killed worker cannot end
(veritas/tasks.py)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.tasks import task

from monitoring import services
from veritas.tasks import schedule_periodic

# pg_advisory_xact_lock key: one scheduler at a time (workers, `evaluate_health --schedule`).
SCHEDULE_LOCK = 0x6D6F6E_6865616C  # "mon" "heal"


@task
def evaluate_health(reschedule: bool = False) -> dict:
    """One health evaluation of every component. With ``reschedule`` (the periodic chain),
    first keep the next evaluations queued, so that this run failing cannot end the chain."""
    if reschedule:
        schedule_health_evaluation()
    evaluation = services.evaluate_health()
    return {
        "evaluated": len(evaluation.results),
        "transitions": [f"{t.component}: {t.old_status} → {t.new_status}" for t in evaluation.transitions],
    }


def schedule_health_evaluation(*, now: datetime | None = None) -> int:
    """Keep the periodic evaluations queued, every MONITORING_HEALTH_INTERVAL_SECONDS; returns
    how many it queued."""
    interval = timedelta(seconds=settings.MONITORING_HEALTH_INTERVAL_SECONDS)
    return schedule_periodic(evaluate_health, interval=interval, lock=SCHEDULE_LOCK, now=now)
