from datetime import UTC, datetime

import pytest

from monitoring import tasks
from monitoring.ingest import LogEntry, ingest


@pytest.mark.django_db
def test_the_task_evaluates_health():
    ingest([LogEntry(source="api", level="info", message="ok", timestamp=datetime.now(UTC)) for _ in range(12)])

    result = tasks.evaluate_health.enqueue()

    assert result.return_value == {"evaluated": 1, "transitions": ["api: UNKNOWN → NORMAL"]}


@pytest.mark.django_db
def test_without_a_deferring_backend_nothing_is_scheduled():
    assert tasks.schedule_health_evaluation() == 0
