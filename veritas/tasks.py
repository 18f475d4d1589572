"""Tasks of the foundation, and the periodic chain every app's recurring work uses.

A periodic task is a chain that a failure or a killed worker cannot end: every run first
makes sure that AHEAD runs are queued after it (``schedule_periodic``), and only then does
its work. A run that raises leaves its successors queued. A worker killed mid-run leaves its
row RUNNING for good (django-tasks-db never reclaims a claimed row) but the spare queued
before the run was claimed is still there, for any live worker, or this one once restarted.
Nothing needs a restart or a cron entry to carry on. The task takes ``reschedule: bool`` and,
when true, calls its scheduler first (monitoring/tasks.py, research/tasks.py).
"""

from datetime import datetime, timedelta

from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.tasks import Task, TaskResultStatus, task
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

# Periodic runs kept queued: the next one, and a spare that survives a worker killed between
# claiming the next one and queueing its successor.
AHEAD = 2


def schedule_periodic(periodic: Task, *, interval: timedelta, lock: int, now: datetime | None = None) -> int:
    """Queue runs of ``periodic`` (with ``reschedule=True``) until AHEAD are waiting, each
    ``interval`` after the latest waiting one (or after now, if that is later: a worker back
    from a long stop catches up with one run, not with every missed interval). ``lock`` is
    the chain's pg_advisory_xact_lock key: one scheduler at a time. Returns how many it queued."""
    if interval <= timedelta(0):
        raise ValueError("a periodic task needs a positive interval")
    if not isinstance(periodic.get_backend(), DatabaseBackend):
        return 0  # e.g. the immediate backend of the tests: no deferred runs
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        waiting = list(
            DBTaskResult.objects.filter(
                task_path=periodic.module_path,
                status=TaskResultStatus.READY,
                args_kwargs__kwargs__reschedule=True,
            )
            .order_by("-run_after")
            .values_list("run_after", flat=True)
        )
        # A run queued without run_after (by hand) is stored at django-tasks-db's far-future
        # sentinel, meaning "now": the chain goes on from now, not from the year 9999.
        latest = [moment for moment in waiting if moment != get_date_max()][:1]
        run_after = max([now, *latest])
        for _ in range(AHEAD - len(waiting)):
            run_after += interval
            periodic.using(run_after=run_after).enqueue(reschedule=True)
    return max(0, AHEAD - len(waiting))


@task
def clear_expired_sessions() -> int:
    """Delete expired admin/API sessions; returns how many were deleted.

    Small, real and safe to run at any time: it proves the task wiring end to end
    (enqueue → django-tasks-db → ``make worker``).
    """
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
