"""A teacher's journey through the dashboard admin on the demo data: their cohort's overview,
a declining student's page, and a draft returned with feedback."""

import io

import pytest
from django.contrib.auth import get_user_model

from dashboard import demo, selectors
from dashboard.models import Cohort, Draft, DraftStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"
FEEDBACK = "Good start. Quote the text to support your second paragraph, then resubmit."


@pytest.fixture
def teacher(page, admin_login):
    demo.seed(stdout=io.StringIO())
    _, username = demo.COHORTS[0]
    teacher = get_user_model().objects.get(username=username)
    teacher.set_password(PASSWORD)
    teacher.save()
    admin_login(username, PASSWORD)
    page.wait_for_selector("#site-name")
    return teacher


def fits(page) -> bool:
    """No horizontal scrolling: the page's tables fit the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_teacher_returns_a_declining_students_draft_with_feedback(live_server, page, teacher, screenshot):
    cohort = Cohort.objects.get(staff=teacher)
    declining = {row.student_id: row for row in selectors.cohort_overview(cohort) if row.declining}
    draft = Draft.objects.get(student__in=declining, status=DraftStatus.SUBMITTED)
    student = draft.student

    # The cohort, from the dashboard's cohort list.
    page.goto(f"{live_server.url}/admin/dashboard/cohort/")
    assert page.locator("#result_list tbody tr").count() == 1  # their cohort only
    page.get_by_role("link", name=cohort.name).click()
    overview = page.locator("#overview-table")
    overview.wait_for()
    assert overview.locator("tbody tr").count() == demo.STUDENTS_PER_COHORT
    flagged = overview.locator("tbody tr", has=page.locator(".veritas-badge-declining"))
    assert flagged.count() == len(declining)
    assert page.locator("#kpi-declining").inner_text() == str(len(declining))
    assert overview.locator("tbody tr", has=page.locator(".veritas-badge-inactive")).count() == 2
    assert fits(page)
    screenshot("dashboard-cohort")

    # A declining student, from the overview.
    flagged.get_by_role("link", name=student.name).click()
    chart = page.locator("figure#dashboard-score-chart")
    chart.wait_for()
    assert chart.locator("svg polyline").count() >= len(demo.CURRICULUM)  # a line per subject (gaps split one)
    assert chart.locator(".vchart-legend li").all_inner_texts() == sorted(demo.CURRICULUM)
    assert chart.locator("svg .vchart-grid text").all_text_contents()[-1] == "100\u00a0%"
    performance = page.locator("#performance-table tbody th")
    assert performance.first.inner_text() == "All subjects"
    assert set(sorted(demo.CURRICULUM)) <= set(performance.all_inner_texts())
    assert page.locator("#drafts-table .veritas-badge-submitted").inner_text() == "Submitted"
    assert fits(page)
    screenshot("dashboard-student")
    chart.screenshot(path=str(screenshot.folder / "dashboard-score-chart.png"))

    # The submitted draft: start the review, then return it with feedback.
    page.locator("#drafts-table").get_by_role("link", name=draft.title).click()
    page.get_by_role("button", name="Start review").click()
    page.locator("#id_feedback").fill(FEEDBACK)
    page.get_by_role("button", name="Return with feedback").click()

    assert "returned to the student with your feedback" in page.locator(".messagelist").inner_text()
    assert page.locator(".field-status_text .veritas-badge").inner_text().lower() == "returned"
    assert FEEDBACK in page.locator(".field-feedback").inner_text()
    draft.refresh_from_db()
    assert (draft.status, draft.feedback, draft.reviewer) == (DraftStatus.RETURNED, FEEDBACK, teacher)
    assert fits(page)
    screenshot("dashboard-draft-returned")
    assert page.csp_violations == []
