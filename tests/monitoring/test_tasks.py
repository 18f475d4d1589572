from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from monitoring import tasks
from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringResult


@pytest.mark.django_db
def test_the_task_evaluates_health():
    ingest([LogEntry(source="api", level="info", message="ok", timestamp=datetime.now(UTC)) for _ in range(12)])

    result = tasks.evaluate_health.enqueue()

    assert result.return_value == {"evaluated": 1, "transitions": ["api: UNKNOWN → NORMAL"]}


@pytest.mark.django_db
def test_without_a_deferring_backend_nothing_is_scheduled():
    assert tasks.schedule_health_evaluation() is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_task_backend")
def test_the_worker_evaluates_periodically():
    ingest([LogEntry(source="api", level="info", message="ok", timestamp=datetime.now(UTC)) for _ in range(12)])

    call_command("evaluate_health", "--schedule")
    call_command("evaluate_health", "--schedule")  # already queued: no second chain
    waiting = DBTaskResult.objects.filter(status="READY")
    assert waiting.count() == 1
    assert waiting.get().run_after > timezone.now()

    waiting.update(run_after=timezone.now())  # as when the interval has passed
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    assert MonitoringResult.objects.count() == 1
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 1, "it queued its successor"
