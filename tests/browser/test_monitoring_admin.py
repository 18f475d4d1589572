from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from monitoring.ingest import LogEntry, ingest
from monitoring.models import Status, SystemHealth

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def logged_in(page, admin_login):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-browser-password")
    ingest(
        [
            LogEntry(
                source="api" if i % 3 else "db",
                level="error" if i % 10 == 0 else "info",
                message=f"event {i}",
                timestamp=NOW - timedelta(hours=i % 12),
            )
            for i in range(120)
        ]
    )
    SystemHealth.objects.create(component="db", status=Status.CRITICAL, severity=0.9, reason="43% errors")
    SystemHealth.objects.create(component="api", status=Status.NORMAL, severity=0.1, reason="fine")
    admin_login("ops", "a-long-browser-password")
    page.wait_for_selector("#site-name")
    return page


def test_the_log_changelist_shows_kpis_and_a_chart_that_follow_the_filters(live_server, logged_in, screenshot):
    page = logged_in
    page.goto(f"{live_server.url}/admin/monitoring/monitoringlog/")

    assert page.locator("#kpi-total").inner_text() == "120"
    assert page.locator("#kpi-errors").inner_text() == "12"
    assert page.locator("svg.veritas-chart rect").count() >= 12  # 12 hours, stacked by level
    assert page.locator("#result_list tbody tr").count() == 100  # a page
    screenshot("monitoring-logs-changelist")

    page.goto(f"{live_server.url}/admin/monitoring/monitoringlog/?level__exact=error")

    assert page.locator("#kpi-total").inner_text() == "12"
    assert page.locator("#kpi-error-rate").inner_text() == "100.0%"
    assert page.csp_violations == []


def test_health_badges_render_with_their_colours(live_server, logged_in, screenshot):
    page = logged_in
    page.goto(f"{live_server.url}/admin/monitoring/systemhealth/")

    critical = page.locator(".veritas-badge", has_text="CRITICAL")
    assert critical.count() == 1
    assert critical.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    assert page.locator(".veritas-badge", has_text="NORMAL").count() == 1
    screenshot("monitoring-health")
    assert page.csp_violations == []
