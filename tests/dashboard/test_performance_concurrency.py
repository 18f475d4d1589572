"""Two writes for one student at once stay exact: the second recomputation waits for the
first write to commit and then sees its rows (dashboard/performance.py locks the students
it recomputes). Without that, the second computes from a snapshot without the first's row
and overwrites the first's record with it."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from dashboard import performance, services
from dashboard.models import PerformanceRecord

from .conftest import T0

WAIT = 30  # seconds: a bound for the threads, never reached when things work


def quiz(score: int, days: int) -> dict:
    return {"kind": "quiz", "subject": "Math", "score": Decimal(score), "taken_at": T0 + timedelta(days=days)}


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_write_that_waits_for_another_sees_its_rows(student, teacher, co_teacher):
    first_written, first_may_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                services.record_assessment(actor=teacher, student=student, data=quiz(50, 0))
                first_written.set()
                assert first_may_commit.wait(WAIT)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    def second():
        try:
            assert first_written.wait(WAIT)
            services.record_assessment(actor=co_teacher, student=student, data=quiz(90, 1))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_written.wait(WAIT)
    deadline = time.monotonic() + WAIT
    while not waiting_on_a_lock():  # the second write is blocked by the first's transaction
        assert time.monotonic() < deadline, "the second write never waited for the first"
    first_may_commit.set()
    for thread in threads:
        thread.join(WAIT)

    assert not errors, errors
    overall = PerformanceRecord.objects.get(student=student, scope="overall")
    assert (overall.count, overall.mean, overall.last) == (2, 70.0, 90.0)
    assert performance.differences() == []
