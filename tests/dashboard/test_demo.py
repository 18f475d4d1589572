from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard import demo, performance, selectors
from dashboard.models import AssessmentLog, Cohort, ConceptModule, Draft, DraftStatus, Student
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


def counts() -> dict:
    models = [Cohort, Student, ConceptModule, AssessmentLog, Draft, ActionLog, get_user_model()]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def seeded(capsys, settings):
    settings.VERITAS_ADMIN_PASSWORD = ""
    call_command("seed_demo", "dashboard")
    return capsys.readouterr().out


def test_seeding_twice_adds_nothing(seeded, capsys):
    first = counts()

    call_command("seed_demo", "dashboard")

    assert counts() == first
    assert first["Student"] == 60 and first["Cohort"] == 2
    assert "the demo cohorts exist" in capsys.readouterr().out


def test_the_overview_flags_declining_and_inactive_students(seeded):
    for cohort in Cohort.objects.filter(term=demo.TERM):
        rows = selectors.cohort_overview(cohort)
        assert len(rows) == demo.STUDENTS_PER_COHORT
        assert any(row.declining for row in rows), cohort
        assert sum(row.inactive for row in rows) == 2, cohort  # the two inactive students; not the withdrawn one


def test_the_records_are_exact_and_the_term_ends_now(seeded):
    assert performance.differences() == []
    newest = AssessmentLog.objects.order_by("-taken_at").first().taken_at
    oldest = AssessmentLog.objects.order_by("taken_at").first().taken_at
    assert (newest - oldest).days >= 7 * (demo.WEEKS - 1)


def test_drafts_are_in_every_state_and_a_declining_student_waits_for_review(seeded):
    assert set(Counter(Draft.objects.values_list("status", flat=True))) == set(DraftStatus.values)
    assert Draft.objects.filter(status=DraftStatus.RETURNED).exclude(feedback="").exists()
    cohort = Cohort.objects.get(name=demo.COHORTS[0][0])
    declining = {row.student_id for row in selectors.cohort_overview(cohort) if row.declining}
    assert Draft.objects.filter(student__in=declining, status=DraftStatus.SUBMITTED).exists()


def test_the_teachers_log_in_with_the_printed_password_and_teach_one_cohort_each(seeded):
    password = seeded.split("with the password ")[1].split()[0]
    for name, username in demo.COHORTS:
        teacher = get_user_model().objects.get(username=username)
        assert teacher.is_staff and teacher.check_password(password)
        assert list(Cohort.objects.filter(staff=teacher).values_list("name", flat=True)) == [name]
    assert Student.objects.visible_to(get_user_model().objects.get(username=demo.HEAD)).count() == 60


def test_everything_went_through_the_audited_paths(seeded):
    entries = ActionLog.objects.all()
    assert set(entries.values_list("via", flat=True)) == {"command"}
    imports = entries.filter(verb="import", object_type="dashboard.assessmentlog")
    assert sum(entry.changes["counts"]["created"] for entry in imports) == AssessmentLog.objects.count()
