"""Retention: expired stores (their partitions dropped), jobs finished over 7 days ago, audit
and usage over 90 days old, models never; the dry run counts exactly what the real run
deletes; the worker's periodic run."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from research import qac, services, tasks, vectors
from research.models import AuditLog, JobStatus, QACModel, UsageMetrics, VectorStore
from veritas.tasks import AHEAD

pytestmark = pytest.mark.django_db


def partition_exists(store) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [store.partition])
        return cursor.fetchone()[0]


@pytest.fixture
def aged(institution):
    """Two of each kind of row, one past its retention and one not (plus a job past it that
    has not finished)."""
    now = timezone.now()
    expired = vectors.create_store(institution=institution, name="old", dimension=2, expires_at=now)
    item = vectors.Item(id="a", vector=[1.0, 2.0])
    vectors.upsert(expired, vectors.checked([item], ["0"], expired))
    live = vectors.create_store(institution=institution, name="new", dimension=2)
    for status, age in [("succeeded", 8), ("cancelled", 8), ("queued", 8), ("failed", 6)]:
        JobStatus.objects.create(
            institution=institution, kind="qac_fit", status=status, created_at=now - timedelta(days=age)
        )
    for age in (91, 89):
        AuditLog.objects.create(
            at=now - timedelta(days=age), trace_id=f"tamu_{age}", method="GET", route="jobs/", status=200, duration_ms=1
        )
        UsageMetrics.objects.create(
            institution=institution, route="jobs/", day=(now - timedelta(days=age)).date(), requests=1
        )
    model = services.fit(
        institution=institution, embedding=np.random.default_rng(0).standard_normal((10, 2)), params=qac.Params(k_nn=2)
    )
    QACModel.objects.filter(pk=model.pk).update(created_at=now - timedelta(days=3650))
    return expired, live


def test_the_dry_run_counts_what_the_run_deletes(aged, capsys):
    expired, live = aged

    call_command("prune_research", "--dry-run")
    dry = capsys.readouterr().out
    assert dry == "would delete 1 expired vector stores, 2 jobs, 1 audit entries and 1 usage rows\n"
    assert VectorStore.objects.count() == 2 and partition_exists(expired)

    call_command("prune_research", "--batch-size", "1")
    assert capsys.readouterr().out == dry.replace("would delete", "deleted")

    assert list(VectorStore.objects.all()) == [live]
    assert not partition_exists(expired) and partition_exists(live)
    assert sorted(JobStatus.objects.values_list("status", flat=True)) == ["failed", "queued"]
    assert list(AuditLog.objects.values_list("trace_id", flat=True)) == ["tamu_89"]
    assert UsageMetrics.objects.count() == 1
    assert QACModel.objects.count() == 1  # never deleted
    call_command("prune_research", "--dry-run")
    assert capsys.readouterr().out == "would delete 0 expired vector stores, 0 jobs, 0 audit entries and 0 usage rows\n"


def test_a_bad_batch_size_is_refused():
    with pytest.raises(Exception, match="--batch-size must be at least 1"):
        call_command("prune_research", "--batch-size", "0")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_task_backend")
def test_the_worker_prunes_daily(aged, capsys):
    call_command("prune_research", "--schedule")
    call_command("prune_research", "--schedule")  # `make worker` again: nothing more
    assert (
        capsys.readouterr().out
        == "periodic research pruning: 2 run(s) queued\nperiodic research pruning: already queued\n"
    )
    waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=tasks.prune_research.module_path)
    run_afters = sorted(waiting.values_list("run_after", flat=True))
    assert len(run_afters) == AHEAD
    assert run_afters[1] - run_afters[0] == timedelta(days=1)

    DBTaskResult.objects.filter(pk=waiting.order_by("run_after").first().pk).update(run_after=timezone.now())
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    done = DBTaskResult.objects.get(task_path=tasks.prune_research.module_path, status=TaskResultStatus.SUCCESSFUL)
    assert done.return_value == {"vector_stores": 1, "jobs": 2, "audit_entries": 1, "usage_rows": 1}
    assert waiting.count() == AHEAD  # the run queued its successor first
