"""The worker's periodic health evaluation survives a failed run and a killed worker, with
the real django-tasks-db backend and worker (`db_worker --batch`, as `make worker` runs it)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from monitoring import services, tasks
from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringResult
from veritas.tasks import AHEAD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_task_backend")]


@pytest.fixture(autouse=True)
def logs():
    ingest([LogEntry(source="api", level="info", message="ok", timestamp=datetime.now(UTC)) for _ in range(12)])


def waiting():
    return DBTaskResult.objects.filter(status=TaskResultStatus.READY).order_by("run_after")


def make_the_next_one_due():
    DBTaskResult.objects.filter(pk=waiting().first().pk).update(run_after=timezone.now())


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_scheduling_queues_the_next_run_and_a_spare_once(capsys):
    call_command("evaluate_health", "--schedule")
    call_command("evaluate_health", "--schedule")  # `make worker` again: nothing more

    run_afters = list(waiting().values_list("run_after", flat=True))
    assert len(run_afters) == AHEAD == 2
    assert run_afters[1] - run_afters[0] == timedelta(seconds=60)
    assert run_afters[0] > timezone.now()
    assert capsys.readouterr().out.splitlines() == [
        "periodic health evaluation: 2 run(s) queued",
        "periodic health evaluation: already queued",
    ]


def test_the_worker_evaluates_periodically_without_piling_up_runs():
    tasks.schedule_health_evaluation()

    for _ in range(3):
        make_the_next_one_due()
        run_worker()

    assert MonitoringResult.objects.count() == 3
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 3
    assert waiting().count() == 2


def test_a_failing_run_does_not_end_the_chain(monkeypatch):
    tasks.schedule_health_evaluation()

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "evaluate_health", broken)
    make_the_next_one_due()
    run_worker()

    assert DBTaskResult.objects.get(status=TaskResultStatus.FAILED).exception_class_path == "builtins.RuntimeError"
    assert waiting().count() == 2, "its successors were queued before it failed"

    monkeypatch.undo()
    make_the_next_one_due()
    run_worker()  # the same worker goes on: no restart, no --schedule

    assert MonitoringResult.objects.count() == 1


def test_a_killed_worker_does_not_end_the_chain():
    tasks.schedule_health_evaluation()
    make_the_next_one_due()
    with transaction.atomic():  # what db_worker does before running a task; then it is killed
        DBTaskResult.objects.ready().get_locked().claim("killed-worker")

    make_the_next_one_due()  # the spare, an interval later
    run_worker()  # another worker (or the same, restarted)

    assert DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count() == 1, "the dead run"
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 1
    assert MonitoringResult.objects.count() == 1
    assert waiting().count() == 2


def test_a_worker_back_from_a_long_stop_catches_up_with_one_run():
    tasks.schedule_health_evaluation(now=timezone.now() - timedelta(days=1))  # both runs long overdue

    run_worker()

    assert MonitoringResult.objects.count() == 2, "the two overdue runs, not a day of them"
    assert all(run_after > timezone.now() for run_after in waiting().values_list("run_after", flat=True))


def test_a_one_off_evaluation_is_not_part_of_the_chain():
    tasks.evaluate_health.enqueue()

    assert tasks.schedule_health_evaluation() == 2


def test_a_run_queued_by_hand_counts_as_due_now():
    tasks.evaluate_health.enqueue(reschedule=True)  # no run_after: due at once

    before = timezone.now()
    assert tasks.schedule_health_evaluation() == AHEAD - 1

    queued = waiting().filter(run_after__lt=datetime(9999, 1, 1, tzinfo=UTC)).get()
    interval = timedelta(seconds=settings.MONITORING_HEALTH_INTERVAL_SECONDS)
    assert before + interval <= queued.run_after <= timezone.now() + interval  # from now, not from 9999
