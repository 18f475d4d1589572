"""Background work of the monitoring app (django-tasks-db, run by `make worker`)."""

from datetime import timedelta

from django.conf import settings
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from monitoring import services


@task
def evaluate_health(reschedule: bool = False) -> dict:
    """One health evaluation of every component. With ``reschedule``, queue the next one
    EVALUATION_INTERVAL_SECONDS later: the worker then evaluates periodically."""
    evaluation = services.evaluate_health()
    if reschedule:
        schedule_health_evaluation()
    return {
        "evaluated": len(evaluation.results),
        "transitions": [f"{t.component}: {t.old_status} → {t.new_status}" for t in evaluation.transitions],
    }


def schedule_health_evaluation() -> bool:
    """Queue the next periodic evaluation unless one is already waiting. Returns whether it queued."""
    backend = evaluate_health.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return False  # e.g. the immediate backend of the tests: no deferred runs
    waiting = DBTaskResult.objects.filter(task_path=evaluate_health.module_path, status=TaskResultStatus.READY)
    if waiting.exists():
        return False
    interval = timedelta(seconds=settings.MONITORING_HEALTH_INTERVAL_SECONDS)
    evaluate_health.using(run_after=timezone.now() + interval).enqueue(reschedule=True)
    return True
