import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model

from monitoring.ingest import LogEntry, ingest
from monitoring.models import Status, SystemHealth

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
LONG_REASON = (
    "13 errors in 30 logs (43.3%) over 15 min; CRITICAL pending (2/3) after a deploy of the scheduler "
    "that retried every failed job at once and filled the connection pool"
)


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
    SystemHealth.objects.create(component="db", status=Status.CRITICAL, severity=0.9, reason=LONG_REASON)
    SystemHealth.objects.create(component="api", status=Status.NORMAL, severity=0.1, reason="fine")
    admin_login("ops", "a-long-browser-password")
    page.wait_for_selector("#site-name")
    return page


def boxes_overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]


def test_the_log_changelist_shows_kpis_and_a_chart_that_follow_the_filters(live_server, logged_in, screenshot):
    page = logged_in
    page.goto(f"{live_server.url}/admin/monitoring/monitoringlog/")

    assert page.locator("#kpi-total").inner_text() == "120"
    assert page.locator("#kpi-errors").inner_text() == "12"
    assert page.locator("#kpi-error-rate").inner_text() == "10.0\u00a0%"
    chart = page.locator("figure#monitoring-logs-chart")
    assert chart.locator("svg .vchart-bar").count() == 12  # 12 hours, stacked by level
    assert chart.locator("svg .vchart-grid text").count() >= 3  # a y scale
    x_labels = chart.locator("svg .vchart-x text")
    assert x_labels.count() >= 3
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d\d:00", text) for text in x_labels.all_text_contents())
    boxes = [label.bounding_box() for label in x_labels.all()]
    assert not any(boxes_overlap(a, b) for a, b in pairwise(boxes))
    assert chart.locator(".vchart-legend li").all_inner_texts() == ["debug", "info", "warning", "error", "critical"]
    assert chart.locator("svg").get_attribute("role") == "img"
    assert "120 logs in total" in chart.locator("svg desc").text_content()
    assert chart.locator(".vchart-sr table tbody tr").count() == 12
    assert page.locator("#result_list tbody tr").count() == 100  # a page
    screenshot("monitoring-logs-changelist")
    chart.screenshot(path=str(screenshot.folder / "monitoring-logs-chart.png"))

    page.goto(f"{live_server.url}/admin/monitoring/monitoringlog/?level__exact=error")

    assert page.locator("#kpi-total").inner_text() == "12"
    # Not "100 %": the rate of all levels of the same time.
    assert page.locator("#kpi-error-rate").inner_text() == "10.0\u00a0%"
    assert "all levels" in page.locator("#kpi-error-rate-help").inner_text()
    assert page.csp_violations == []


def test_the_health_list_fits_the_page_with_short_reasons(live_server, logged_in, screenshot):
    page = logged_in
    page.goto(f"{live_server.url}/admin/monitoring/systemhealth/")

    critical = page.locator(".veritas-badge", has_text="CRITICAL")
    assert critical.count() == 1
    assert critical.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    assert page.locator(".veritas-badge", has_text="NORMAL").count() == 1
    assert page.locator("#result_list td.field-severity_text").all_inner_texts() == ["0.10", "0.90"]
    assert page.locator("#result-count").inner_text() == "2 components"
    reason = page.locator("#result_list td.field-reason_text span", has_text="13 errors")
    assert reason.get_attribute("title") == LONG_REASON  # the whole reason on hover
    line_height = reason.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert reason.bounding_box()["height"] <= 2 * line_height + 1  # two lines at most, cut with an ellipsis
    results = page.locator("#changelist .results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth")  # no horizontal scrolling
    screenshot("monitoring-health")
    assert page.csp_violations == []
