from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from monitoring.ingest import LogEntry, ingest
from monitoring.models import HealthTransition, MonitoringLog, MonitoringResult, Status, SystemHealth

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


@pytest.mark.usefixtures("logs")
def test_the_chart_holds_every_log_the_kpis_count(admin_client):
    response = admin_client.get("/admin/monitoring/monitoringlog/")

    summary = response.context["monitoring"]
    chart = summary["chart"]
    assert sum(chart.totals()) == summary["total"] > 0
    html = response.content.decode()
    assert f"{summary['total']:,} logs in total" in html  # the chart's description for screen readers
    assert html.count('class="vchart-bar"') == sum(1 for total in chart.totals() if total)


@pytest.mark.usefixtures("logs")
def test_with_a_level_filter_the_error_rate_counts_every_level_of_the_same_logs(admin_client):
    response = admin_client.get("/admin/monitoring/monitoringlog/?source=db&level__exact=error")

    summary = response.context["monitoring"]
    window = MonitoringLog.objects.filter(
        source="db", timestamp__gte=summary["newest"].replace(minute=0) - timedelta(days=7) + timedelta(hours=1)
    )
    assert summary["errors"] == summary["total"] == window.filter(level="error").count()
    assert summary["error_rate"] == pytest.approx(window.filter(level="error").count() / window.count())
    assert summary["error_rate"] < 1  # not "100 %" of the errors being errors
    assert b"error rate of all levels" in response.content


@pytest.mark.usefixtures("logs")
def test_with_a_level_filter_and_a_search_it_shows_no_error_rate_rather_than_a_wrong_one(admin_client):
    response = admin_client.get("/admin/monitoring/monitoringlog/?level__exact=error&q=event")

    summary = response.context["monitoring"]
    assert summary["total"] > 0
    assert summary["error_rate"] is None
    assert b"no error rate: a level filter with a search counts one level only" in response.content


def test_the_kpis_speak_of_one_log_in_the_singular(admin_client):
    ingest([LogEntry(source="api", level="info", message="alone", timestamp=NOW)])

    response = admin_client.get("/admin/monitoring/monitoringlog/")

    assert b"log, last 7 days of the selection" in response.content
    assert b"logs at error or critical level" in response.content  # 0 errors
    assert b"0.0\xc2\xa0%" in response.content


def make_result(**overrides) -> MonitoringResult:
    values = {
        "source": "api",
        "window_start": NOW - timedelta(minutes=15),
        "window_end": NOW,
        "counts": {"error": 412},
        "total": 12345,
        "error_rate": 412 / 12345,
        "severity": 1 / 30,
        "status": Status.NORMAL,
        "thresholds": {},
        "evaluated_at": NOW,
    }
    return MonitoringResult.objects.create(**{**values, **overrides})


def test_results_show_counts_rates_and_severities_as_people_read_them(admin_client):
    result = make_result()

    listing = admin_client.get("/admin/monitoring/monitoringresult/").content.decode()
    detail = admin_client.get(f"/admin/monitoring/monitoringresult/{result.pk}/change/").content.decode()

    for html in (listing, detail):
        assert "12,345" in html
        assert "3.3\u00a0%" in html
        assert "0.03" in html
        assert "0.0333" not in html
    assert "2026-11-20 12:40" in listing


def test_health_shows_severities_with_two_decimals_and_the_whole_reason_on_hover(admin_client):
    reason = "13 errors in 30 logs (43.3%) over 15 min; " + "a long explanation " * 10
    health = SystemHealth.objects.create(component="db", status=Status.CRITICAL, severity=0.9, reason=reason)
    HealthTransition.objects.create(
        component="db", old_status=Status.NORMAL, new_status=Status.CRITICAL, severity=2 / 3, reason=reason
    )

    listing = admin_client.get("/admin/monitoring/systemhealth/").content.decode()
    detail = admin_client.get(f"/admin/monitoring/systemhealth/{health.pk}/change/").content.decode()
    history = admin_client.get("/admin/monitoring/healthtransition/").content.decode()

    assert '<td class="field-severity_text">0.90</td>' in listing
    assert "0.90" in detail
    assert '<td class="field-severity_text">0.67</td>' in history
    for html in (listing, history):
        assert f'<span class="veritas-clamped" title="{reason}">' in html
    assert "monitoring/admin.css" in listing  # the stylesheet that keeps it to two lines


def test_the_health_list_counts_components_not_system_healths(admin_client):
    SystemHealth.objects.create(component="db")

    one = admin_client.get("/admin/monitoring/systemhealth/").content.decode()
    SystemHealth.objects.create(component="api")
    two = admin_client.get("/admin/monitoring/systemhealth/").content.decode()

    assert ">1 component<" in one
    assert ">2 components<" in two
    assert "1 system health" not in one
    assert "2 system health" not in two


def test_the_health_list_says_how_long_ago_with_the_exact_time_on_hover(admin_client):
    since = timezone.now() - timedelta(hours=3, minutes=5)
    SystemHealth.objects.create(component="db", since=since)

    html = admin_client.get("/admin/monitoring/systemhealth/").content.decode()

    assert f'title="{since:%Y-%m-%d %H:%M:%S} UTC">3\u00a0hours ago</time>' in html


def test_evaluating_now_reports_in_the_singular_for_one_component(admin_client):
    ingest([LogEntry(source="api", level="info", message="up", timestamp=timezone.now())])
    health = SystemHealth.objects.create(component="api")

    response = admin_client.post(
        "/admin/monitoring/systemhealth/",
        {"action": "evaluate_now", "_selected_action": [health.pk]},
        follow=True,
    )

    assert "Evaluated 1 component, " in response.content.decode()
