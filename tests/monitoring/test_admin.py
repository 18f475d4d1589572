from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory

from monitoring.ingest import LogEntry, ingest
from monitoring.models import MonitoringLog

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 40, tzinfo=UTC)


@pytest.fixture
def logs():
    ingest(
        [
            LogEntry(
                source=["api", "db"][i % 2],
                level=["info", "error", "warning"][i % 3],
                message=f"event {i}",
                timestamp=NOW - timedelta(minutes=37 * i),
            )
            for i in range(400)  # about ten days
        ]
    )


@pytest.mark.usefixtures("logs")
@pytest.mark.parametrize(
    ("params", "filters"),
    [
        ({}, {}),
        ({"source": "db", "level__exact": "error"}, {"source": "db", "level": "error"}),
        (
            {"timestamp__year": "2026", "timestamp__month": "11", "timestamp__day": "15"},
            {"timestamp__date": datetime(2026, 11, 15).date()},
        ),
        ({"timestamp__year": "2026", "timestamp__month": "11"}, {"timestamp__month": 11}),
    ],
)
def test_the_chart_from_the_rollup_equals_the_chart_from_the_logs(params, filters):
    model_admin = admin.site._registry[MonitoringLog]
    request = RequestFactory().get("/admin/monitoring/monitoringlog/", params)

    from_rollup = model_admin.summary(request, MonitoringLog.objects.none())
    from_logs = model_admin._hourly_from_logs(MonitoringLog.objects.filter(**filters))

    assert from_rollup["newest"] == from_logs[0]
    assert from_rollup["total"] == sum(sum(v for k, v in b.items() if k != "hour") for b in from_logs[1])
    assert from_rollup["total"] > 0


@pytest.mark.usefixtures("logs")
def test_a_search_is_charted_from_the_logs(admin_client):
    response = admin_client.get("/admin/monitoring/monitoringlog/?q=event+1")

    summary = response.context["monitoring"]
    # The admin searches each word: "event" and "1".
    matching = MonitoringLog.objects.filter(message__icontains="event").filter(message__icontains="1")
    newest = matching.order_by("-timestamp").first().timestamp
    recent = matching.filter(timestamp__gte=newest.replace(minute=0) - timedelta(days=7) + timedelta(hours=1))
    assert summary["total"] == recent.count()


def test_an_empty_table_renders(admin_client):
    response = admin_client.get("/admin/monitoring/monitoringlog/")

    assert response.status_code == 200
    assert b"No logs in this range." in response.content
