"""An institution's API usage in the admin: requests and errors per day as a chart (veritas.charts),
the days and routes as tables, for staff who may view institutions."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from research import selectors
from research.models import UsageMetrics

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(selectors, "utc_today", lambda: TODAY)


def usage_url(institution_id, days=None) -> str:
    return f"/admin/research/institution/{institution_id}/usage/" + (f"?days={days}" if days else "")


def count(institution, route, days_ago, requests, errors=0, total_ms=0.0, max_ms=0.0):
    return UsageMetrics.objects.create(
        institution=institution,
        route=route,
        day=TODAY - timedelta(days=days_ago),
        requests=requests,
        errors=errors,
        total_ms=total_ms,
        max_ms=max_ms,
    )


@pytest.fixture
def usage(institution, other_institution):
    count(institution, "qac/fit/", 0, 12, errors=2, total_ms=120, max_ms=30)
    count(institution, "jobs/", 0, 5, total_ms=50, max_ms=20)
    count(institution, "jobs/", 3, 4, errors=1, total_ms=40, max_ms=25)
    count(institution, "jobs/", 89, 1, total_ms=7, max_ms=7)  # the period's first day
    count(institution, "jobs/", 90, 100, errors=100)  # a day before the period
    count(other_institution, "jobs/", 0, 1000, errors=500, total_ms=5000)  # another institution's


def kpi(html: str, name: str) -> str:
    return re.search(rf'id="kpi-{name}">([^<]*)<', html).group(1)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The <tbody> rows of a table, each as the text of its cells."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.usefixtures("usage")
def test_the_page_charts_the_institutions_requests_per_day_with_its_totals(admin_client, institution):
    response = admin_client.get(usage_url(institution.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and 'id="research-usage-chart"' in html
    chart = response.context["chart"]
    assert len(chart.x) == 90 and chart.x[-1].date() == TODAY and chart.x[0].date() == TODAY - timedelta(days=89)
    # Stacked: the succeeded and the failed requests make the day's requests.
    assert sum(chart.totals()) == 22
    assert [s.label for s in chart.series] == ["succeeded", "errors (status 400 or above)"]
    assert sum(chart.series[1].values) == 3
    assert "22 requests in total" in html  # the chart's description
    assert (kpi(html, "requests"), kpi(html, "errors"), kpi(html, "error-rate"), kpi(html, "mean-ms")) == (
        "22",
        "3",
        "13.6\u00a0%",
        "9.9",
    )
    assert table_rows(html, "usage-routes") == [
        ["qac/fit/", "12", "2", "16.7\u00a0%", "10.0", "30.0"],
        ["jobs/", "10", "1", "10.0\u00a0%", "9.7", "25.0"],
    ]


@pytest.mark.usefixtures("usage")
def test_days_without_requests_are_shown_as_zero(admin_client, institution):
    response = admin_client.get(usage_url(institution.pk))

    report = response.context["report"]
    assert [d.day for d in report.days] == [TODAY - timedelta(days=89 - i) for i in range(90)]
    assert [d.requests for d in report.days if d.requests] == [1, 4, 17]
    assert sum(1 for d in report.days if d.requests == 0) == 87
    rows = table_rows(response.content.decode(), "usage-days")
    assert len(rows) == 90
    assert rows[0] == ["Fri 20 Nov 2026", "17", "2", "11.8\u00a0%", "10.0"]  # newest first
    assert rows[1] == ["Thu 19 Nov 2026", "0", "0", "\u2013", "\u2013"]
    assert rows[3] == ["Tue 17 Nov 2026", "4", "1", "25.0\u00a0%", "10.0"]
    assert rows[-1] == ["Sun 23 Aug 2026", "1", "0", "0.0\u00a0%", "7.0"]


@pytest.mark.usefixtures("usage")
def test_a_shorter_period_counts_only_its_days(admin_client, institution):
    response = admin_client.get(usage_url(institution.pk, days=7))

    assert len(response.context["report"].days) == 7
    assert kpi(response.content.decode(), "requests") == "21"
    assert b'<strong aria-current="page">7 days</strong>' in response.content


def test_a_period_without_requests_shows_the_empty_chart(admin_client, institution):
    response = admin_client.get(usage_url(institution.pk))

    assert response.status_code == 200
    assert response.context["chart"].is_empty
    assert b"No requests in this period." in response.content
    assert kpi(response.content.decode(), "requests") == "0"


def test_the_change_page_links_to_the_usage_page(admin_client, institution):
    change = admin_client.get(f"/admin/research/institution/{institution.pk}/change/")

    assert f'href="{usage_url(institution.pk)}" id="institution-usage-link"'.encode() in change.content


def test_a_user_who_is_not_staff_is_sent_to_the_login(client, make_user, institution):
    client.force_login(make_user("member"))

    response = client.get(usage_url(institution.pk))

    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_staff_without_the_view_permission_on_institutions_are_refused(client, staff, institution):
    client.force_login(staff)

    assert client.get(usage_url(institution.pk)).status_code == 403


def test_staff_with_the_view_permission_see_the_page(client, staff, institution):
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="research", codename="view_institution"))
    client.force_login(staff)

    assert client.get(usage_url(institution.pk)).status_code == 200


@pytest.mark.parametrize("object_id", ["999999", "not-an-id"])
def test_an_unknown_institution_is_a_404(admin_client, institution, object_id):
    assert admin_client.get(usage_url(object_id)).status_code == 404


def test_the_queries_do_not_grow_with_days_or_routes(admin_client, institution):
    count(institution, "jobs/", 0, 1)
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get(usage_url(institution.pk)).status_code == 200

    UsageMetrics.objects.bulk_create(
        UsageMetrics(institution=institution, route=f"route-{r}/", day=TODAY - timedelta(days=d), requests=d + r)
        for d in range(1, 90)
        for r in range(6)
    )
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(usage_url(institution.pk))

    assert len(response.context["report"].routes) == 7
    assert len(many) == len(one)
    usage = [q["sql"] for q in many.captured_queries if '"research_usagemetrics"' in q["sql"]]
    assert len(usage) == 2  # one aggregate per day across routes, one per route


def test_the_selector_counts_one_institution_over_the_period(institution, other_institution, usage):
    report = selectors.institution_usage(other_institution.pk, days=1)

    assert (report.first, report.last) == (TODAY, TODAY)
    assert (report.total.requests, report.total.errors, report.total.mean_ms) == (1000, 500, 5.0)
    with pytest.raises(ValueError, match="at least 1"):
        selectors.institution_usage(institution, days=0)
