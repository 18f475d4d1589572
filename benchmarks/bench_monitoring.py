"""Monitoring (issue 3): ingestion, statistics and listing, each next to its baseline.

1. Ingestion of 10,000-row batches, end to end (HTTP through Django's test client, JSON,
   validation, COPY, rollup), against a raw psycopg COPY of the same rows into the same
   table (target: >= 50 % of its rows/s, i.e. time ratio <= 2), and against a DRF
   ModelSerializer(many=True) + bulk_create endpoint on the same body (target: >= 3x
   faster, i.e. time ratio <= 0.33).
2. Statistics over 1,000,000 logs against a naive GROUP BY over the raw table, with
   identical numbers (target: time ratio <= 0.1).
3. Listing at 1,000,000 logs: page 1,000 of the cursor against page 1 (target: <= 1.5x),
   and the queries a filtered 100-row page costs (target: <= 3).

The log tables are emptied and refilled with 1,000,000 rows (through the ingestion
path) at the start of each run, in the benchmark database only.
"""

import json
import random
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max, Min
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.ingest import LogEntry, ingest
from monitoring.models import Level, LogRollup, MonitoringLog
from veritas.api.pagination import CursorPagination
from veritas.models import PersonalToken

ROWS = 1_000_000
BATCH = 10_000
SOURCES = ["api-gateway", "auth", "worker", "database", "scheduler"]
LEVEL_WEIGHTS = {"debug": 25, "info": 55, "warning": 12, "error": 6, "critical": 2}
T0 = datetime(2026, 10, 1, tzinfo=UTC)
URL = "/api/v1/monitoring/logs/"


class LogModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringLog
        fields = ["source", "level", "message", "timestamp", "metadata", "event_id"]


class DrfBulkCreate(APIView):
    """The textbook DRF path the issue compares against."""

    def post(self, request):
        serializer = LogModelSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        MonitoringLog.objects.bulk_create(MonitoringLog(**row) for row in serializer.validated_data)
        return Response({"inserted": len(serializer.validated_data)}, status=201)


urlpatterns = [path("bench/drf-logs/", DrfBulkCreate.as_view()), path("", include("veritas.urls"))]


def make_rows(rng: random.Random, count: int, start: datetime, span: timedelta) -> list[dict]:
    levels, weights = list(LEVEL_WEIGHTS), list(LEVEL_WEIGHTS.values())
    seconds = int(span.total_seconds())
    return [
        {
            "source": rng.choice(SOURCES),
            "level": rng.choices(levels, weights)[0],
            "message": f"request {rng.randrange(10**6)} served in {rng.randrange(900)} ms",
            "timestamp": (start + timedelta(seconds=rng.randrange(seconds))).isoformat(),
            "metadata": {"path": f"/api/v1/items/{rng.randrange(1000)}", "status": rng.choice([200, 201, 404, 500])},
        }
        for _ in range(count)
    ]


def fill(rng: random.Random) -> None:
    """Empty the log tables and load ROWS logs over 30 days through ingest()."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {MonitoringLog._meta.db_table}, {LogRollup._meta.db_table}")
    for _ in range(ROWS // BATCH):
        rows = make_rows(rng, BATCH, T0, timedelta(days=30))
        ingest(
            [
                LogEntry.model_construct(
                    source=r["source"],
                    level=Level(r["level"]),
                    message=r["message"],
                    timestamp=datetime.fromisoformat(r["timestamp"]),
                    metadata=r["metadata"],
                    event_id=None,
                )
                for r in rows
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {MonitoringLog._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {LogRollup._meta.db_table}")


NAIVE_STATISTICS = f"""
    SELECT source, level, count(*), min(timestamp), max(timestamp)
    FROM {MonitoringLog._meta.db_table} GROUP BY source, level
"""  # noqa: S608


def naive_statistics() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(NAIVE_STATISTICS)
        rows = cursor.fetchall()
    by_level, by_source = dict.fromkeys(Level.values, 0), {}
    for source, level, count, _oldest, _newest in rows:
        by_level[level] += count
        by_source[source] = by_source.get(source, 0) + count
    return {
        "total_logs": sum(by_level.values()),
        "status_distribution": by_level,
        "source_distribution": dict(sorted(by_source.items())),
        "oldest_log": min(r[3] for r in rows),
        "newest_log": max(r[4] for r in rows),
    }


def copy_rows(rows: list[tuple]) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY {MonitoringLog._meta.db_table} (source, level, message, timestamp, received_at, metadata, event_id) "
            "FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


@override_settings(ROOT_URLCONF=__name__)
def run(harness):
    rng = random.Random(3)  # noqa: S311 (benchmark data)
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    PersonalToken.objects.filter(user=user).delete()
    _token, value = PersonalToken.issue(user=user, name="bench")
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {value}"}

    fill(rng)
    assert MonitoringLog.objects.count() == ROWS

    # --- statistics -----------------------------------------------------------------------
    api_stats = client.get("/api/v1/monitoring/statistics/", **auth).json()
    naive = naive_statistics()
    bounds = MonitoringLog.objects.aggregate(oldest=Min("timestamp"), newest=Max("timestamp"))
    assert api_stats["total_logs"] == naive["total_logs"] == ROWS
    assert api_stats["status_distribution"] == naive["status_distribution"]
    assert api_stats["source_distribution"] == naive["source_distribution"]
    assert datetime.fromisoformat(api_stats["oldest_log"]) == bounds["oldest"] == naive["oldest_log"]
    assert datetime.fromisoformat(api_stats["newest_log"]) == bounds["newest"] == naive["newest_log"]
    harness.compare(
        "GET statistics/ at 1M logs (identical numbers)",
        lambda: client.get("/api/v1/monitoring/statistics/", **auth),
        "naive GROUP BY over the raw table",
        naive_statistics,
        repeat=10,
        warmup=2,
        target="<= 0.10x",
        check=lambda c: c.ratio <= 0.10,
    )

    # --- listing ---------------------------------------------------------------------------
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT timestamp, id FROM {MonitoringLog._meta.db_table} "  # noqa: S608
            "ORDER BY timestamp DESC, id DESC OFFSET %s LIMIT 1",
            [999 * 100 - 1],
        )
        moment, key = cursor.fetchone()
    cursor_1000 = CursorPagination()._encode((moment.isoformat(), key))
    page_1 = f"{URL}?page_size=100"
    page_1000 = f"{URL}?page_size=100&cursor={cursor_1000}"
    first_of_1000 = client.get(page_1000, **auth).json()["results"][0]
    assert first_of_1000["id"] != key and datetime.fromisoformat(first_of_1000["timestamp"]) <= moment
    with CaptureQueriesContext(connection) as queries:
        filtered = client.get(f"{URL}?source=database&level=error&page_size=100", **auth)
    assert filtered.status_code == 200 and len(filtered.json()["results"]) == 100
    harness.compare(
        "GET logs/ page 1,000 (cursor) at 1M logs",
        lambda: client.get(page_1000, **auth),
        "GET logs/ page 1",
        lambda: client.get(page_1, **auth),
        repeat=30,
        target="<= 1.5x",
        check=lambda c: c.ratio <= 1.5,
        notes={"queries_for_a_filtered_100_row_page": len(queries), "query_target": "<= 3"},
    )

    # --- ingestion -------------------------------------------------------------------------
    batch = make_rows(rng, BATCH, T0 + timedelta(days=30), timedelta(hours=1))
    body = json.dumps(batch)
    received = datetime.now(UTC)
    copy_tuples = [
        (
            r["source"],
            r["level"],
            r["message"],
            datetime.fromisoformat(r["timestamp"]),
            received,
            json.dumps(r["metadata"]),
            None,
        )
        for r in batch
    ]
    with_ids = json.dumps([{**r, "event_id": None} for r in batch])
    counter = iter(range(10**9))

    def post_with_event_ids():
        n = next(counter)
        rows = json.loads(with_ids)
        for i, row in enumerate(rows):
            row["event_id"] = f"bench-{n}-{i}"
        response = client.post(URL, json.dumps(rows), content_type="application/json", **auth)
        assert response.status_code == 201, response.content

    def post_ours():
        response = client.post(URL, body, content_type="application/json", **auth)
        assert response.status_code == 201, response.content

    def post_drf():
        response = client.post("/bench/drf-logs/", body, content_type="application/json", **auth)
        assert response.status_code == 201, response.content

    ours = harness.compare(
        "POST logs/ 10k rows (HTTP, JSON, validation, COPY)",
        post_ours,
        "raw psycopg COPY of the same rows",
        lambda: copy_rows(copy_tuples),
        repeat=8,
        warmup=2,
        target="<= 2.0x (>= 50% of COPY rows/s)",
        check=lambda c: c.ratio <= 2.0,
    )
    ours.notes.update(
        rows_per_second=round(BATCH / (ours.workload_median_ms / 1000)),
        copy_rows_per_second=round(BATCH / (ours.baseline_median_ms / 1000)),
        share_of_copy=f"{ours.baseline_median_ms / ours.workload_median_ms:.0%}",
    )
    drf = harness.compare(
        "POST logs/ 10k rows (ours)",
        post_ours,
        "DRF ModelSerializer(many=True) + bulk_create",
        post_drf,
        repeat=3,
        warmup=1,
        target="<= 0.33x (>= 3x faster)",
        check=lambda c: c.ratio <= 1 / 3,
    )
    drf.notes.update(speedup=f"{drf.baseline_median_ms / drf.workload_median_ms:.1f}x")
    staged = harness.compare(
        "POST logs/ 10k rows with event_ids (staging, dedupe)",
        post_with_event_ids,
        "raw psycopg COPY of the same rows",
        lambda: copy_rows(copy_tuples),
        repeat=5,
        warmup=1,
        target="for scale: the idempotent path",
    )
    staged.notes.update(rows_per_second=round(BATCH / (staged.workload_median_ms / 1000)))
