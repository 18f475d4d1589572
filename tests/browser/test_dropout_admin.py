"""A teacher's journey through the dropout risk list: the high-risk students of their cohort,
one student's reasons, and the dashboard page showing the same band; the model's card."""

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.models import Cohort, Student
from dropout import predicting, training
from dropout import synthetic as oulad
from dropout.models import DropoutPrediction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"


@pytest.fixture
def teacher(page, admin_login, tmp_path: Path):
    oulad.write(tmp_path)
    call_command("import_oulad", str(tmp_path), stdout=io.StringIO())
    model = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"], activate=True
    )
    predicting.predict(model, training.presentations(["2014B"]))
    teacher = get_user_model().objects.create_user("tutor", email="tutor@example.com", password=PASSWORD, is_staff=True)
    cohort = Cohort.objects.create(name="Support group A", term="2014")
    cohort.staff.add(teacher)
    # The cohort: the students with the highest risks and some others.
    ranked = DropoutPrediction.objects.order_by("-probability").values_list("enrollment__student", flat=True)
    cohort.students.add(*Student.objects.filter(pk__in=list(ranked[:6]) + list(ranked[60:70])))
    admin_login("tutor", PASSWORD)
    page.wait_for_selector("#site-name")
    return teacher


def test_a_teacher_finds_a_high_risk_student_and_why(live_server, page, teacher, screenshot):
    # The risk list: their cohort's students only, highest first, with band badges and reasons.
    page.goto(f"{live_server.url}/admin/dropout/dropoutprediction/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == Cohort.objects.get().students.count()
    first = rows.first
    badge = first.locator(".veritas-badge").inner_text()
    assert badge in ("high risk", "medium risk")
    reasons = first.locator(".dropout-reasons li").all_inner_texts()
    assert reasons
    probabilities = [
        float(text.split("\u00a0")[0]) for text in rows.locator("td.field-probability_text").all_inner_texts()
    ]
    assert probabilities == sorted(probabilities, reverse=True)
    screenshot("dropout-risk-list")

    # The student: the dashboard page shows the same band and the same reasons.
    student_link = first.locator('a[title="the student\'s dashboard page"]')
    name = student_link.inner_text()
    student_link.click()
    risk = page.locator("#risk-table")
    risk.wait_for()
    assert risk.locator(".veritas-badge").first.inner_text() == badge
    assert risk.locator(".dropout-reasons li").all_inner_texts()[: len(reasons)] == reasons
    screenshot("dropout-student-risk")

    # The cohort overview shows the band too.
    page.goto(f"{live_server.url}/admin/dashboard/cohort/{Cohort.objects.get().pk}/change/")
    row = page.locator("#overview-table tbody tr", has=page.get_by_role("link", name=name))
    assert row.locator(".dashboard-risk .veritas-badge").inner_text() == badge

    # How far to trust it: the model's card, with its charts and the table per group.
    model = DropoutPrediction.objects.first().model
    page.goto(f"{live_server.url}/admin/dropout/dropoutmodel/{model.pk}/change/")
    page.locator("#model-card").wait_for()
    assert page.locator("figure#dropout-roc svg polyline").count() >= 1
    assert page.locator("figure#dropout-calibration svg polyline").count() >= 1
    assert page.locator(".dropout-group-table").count() == 4
    assert not page.csp_violations
    screenshot("dropout-model-card")
