"""Retention of the research API's data, the legacy's periods: vector stores when they expire
(24 hours unless moved), finished jobs after 7 days, audit entries and usage after 90 days,
QAC models never. ``manage.py prune_research`` and the worker's daily run call ``prune``."""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from research import vectors
from research.models import AuditLog, JobStatus, UsageMetrics, VectorStore

JOB_RETENTION = timedelta(days=7)
AUDIT_RETENTION = timedelta(days=90)  # audit entries and usage rows
FINISHED = [JobStatus.Status.SUCCEEDED, JobStatus.Status.FAILED, JobStatus.Status.CANCELLED]
STORES_PER_TRANSACTION = 100  # each a DROP TABLE


@dataclass(frozen=True)
class PruneReport:
    vector_stores: int
    jobs: int
    audit_entries: int
    usage_rows: int

    def as_dict(self) -> dict:
        return asdict(self)


def _due(now: datetime):
    """What is due for deletion at ``now``, as querysets (one definition for counting and deleting)."""
    return {
        "vector_stores": VectorStore.objects.filter(expires_at__lte=now),
        # A job still queued or running stays, however old: its worker may yet finish it.
        "jobs": JobStatus.objects.filter(created_at__lt=now - JOB_RETENTION, status__in=FINISHED),
        "audit_entries": AuditLog.objects.filter(at__lt=now - AUDIT_RETENTION),
        "usage_rows": UsageMetrics.objects.filter(day__lt=(now - AUDIT_RETENTION).date()),
    }


def _delete_in_batches(queryset, batch_size: int) -> int:
    """DELETE … WHERE id IN (the next batch's ids), a transaction per batch, so that no lock
    is held for long (raw: audit entries refuse deletion through the ORM)."""
    table = queryset.model._meta.db_table
    ids_sql, params = queryset.order_by().values("pk").query.sql_with_params()
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({ids_sql} LIMIT %s)", [*params, batch_size])
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted


def prune(*, now: datetime | None = None, batch_size: int = 10_000, dry_run: bool = False) -> PruneReport:
    """Delete what retention allows (or, with ``dry_run``, count it: the same numbers)."""
    due = _due(now or timezone.now())
    if dry_run:
        return PruneReport(**{name: queryset.count() for name, queryset in due.items()})
    stores = 0
    while ids := list(due["vector_stores"].order_by("pk").values_list("pk", flat=True)[:STORES_PER_TRANSACTION]):
        stores += vectors.drop_stores(ids)
    return PruneReport(
        vector_stores=stores,
        jobs=_delete_in_batches(due["jobs"], batch_size),
        audit_entries=_delete_in_batches(due["audit_entries"], batch_size),
        usage_rows=_delete_in_batches(due["usage_rows"], batch_size),
    )
