"""Background work of the research app (django-tasks-db, run by `make worker`): large QAC
fits and applies (research/services.py), and the periodic retention run (research/retention.py),
a chain that a failure or a killed worker cannot end (veritas/tasks.py)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.tasks import task

from research import retention, services
from veritas.tasks import schedule_periodic

PRUNE_LOCK = 0x726573_7072756E  # "res" "prun": pg_advisory_xact_lock key of the pruning chain


@task
def run_job(job_id: str) -> str:
    """Run one research job; returns its final status."""
    return services.run_job(job_id)


@task
def prune_research(reschedule: bool = False) -> dict:
    """One retention run (research/retention.py). With ``reschedule`` (the periodic chain),
    first keep the next runs queued."""
    if reschedule:
        schedule_pruning()
    return retention.prune().as_dict()


def schedule_pruning(*, now: datetime | None = None) -> int:
    """Keep the periodic pruning queued, every RESEARCH_PRUNE_INTERVAL_SECONDS; returns how
    many runs it queued."""
    interval = timedelta(seconds=settings.RESEARCH_PRUNE_INTERVAL_SECONDS)
    return schedule_periodic(prune_research, interval=interval, lock=PRUNE_LOCK, now=now)
