"""Background work of the monitoring app (django-tasks-db, run by `make worker`).

The periodic health evaluation is a chain of tasks that a failure or a killed worker cannot
end: every run first makes sure that AHEAD evaluations are queued after it, and only then
evaluates. A run that raises leaves its successors queued. A worker killed mid-run leaves
its row RUNNING for good (django-tasks-db never reclaims a claimed row) but the spare
queued before the run was claimed is still there, for any live worker, or this one once
restarted. Nothing needs a restart or a cron entry to carry on.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from monitoring import services

# Periodic evaluations kept queued: the next one, and a spare that survives a worker killed
# between claiming the next one and queueing its successor.
AHEAD = 2
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
    """Queue periodic evaluations until AHEAD are waiting, each MONITORING_HEALTH_INTERVAL_SECONDS
    after the latest waiting one (or after now, if that is later: a worker back from a long
    stop catches up with one run, not with every missed interval). Returns how many it queued."""
    if not isinstance(evaluate_health.get_backend(), DatabaseBackend):
        return 0  # e.g. the immediate backend of the tests: no deferred runs
    now = now or timezone.now()
    interval = timedelta(seconds=settings.MONITORING_HEALTH_INTERVAL_SECONDS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULE_LOCK])
        waiting = list(
            DBTaskResult.objects.filter(
                task_path=evaluate_health.module_path,
                status=TaskResultStatus.READY,
                args_kwargs__kwargs__reschedule=True,
            )
            .order_by("-run_after")
            .values_list("run_after", flat=True)
        )
        run_after = max([now, *waiting[:1]])
        for _ in range(AHEAD - len(waiting)):
            run_after += interval
            evaluate_health.using(run_after=run_after).enqueue(reschedule=True)
    return max(0, AHEAD - len(waiting))
