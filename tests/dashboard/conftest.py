"""The dashboard's cast. For a student's data, the *owner* is the teacher of the student's
cohort (or the student themselves), the *colleague* teaches the same cohort, the *stranger*
teaches another cohort; an administrator holds the app's model permissions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from dashboard import services
from dashboard.apps import ADMINISTRATORS
from dashboard.models import Cohort, Student

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def dashboard_admin(make_user):
    user = make_user("head", email="head@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=ADMINISTRATORS))
    return user


@pytest.fixture
def teacher(make_user):
    return make_user("teacher", email="teacher@example.com", is_staff=True)


@pytest.fixture
def co_teacher(make_user):
    return make_user("coteacher", email="coteacher@example.com", is_staff=True)


@pytest.fixture
def other_teacher(make_user):
    return make_user("otherteacher", email="otherteacher@example.com", is_staff=True)


@pytest.fixture
def pupil(make_user):
    """The login of ``student``."""
    return make_user("pupil", email="pupil@example.com")


@pytest.fixture
def cohort(teacher, co_teacher):
    cohort = Cohort.objects.create(name="Year 10 A", term="2026 autumn")
    cohort.staff.add(teacher, co_teacher)
    return cohort


@pytest.fixture
def other_cohort(other_teacher):
    cohort = Cohort.objects.create(name="Year 10 B", term="2026 autumn")
    cohort.staff.add(other_teacher)
    return cohort


@pytest.fixture
def student(cohort, pupil):
    student = Student.objects.create(external_id="s001", name="Ada Lovelace", email="ada@example.com", user=pupil)
    cohort.students.add(student)
    return student


@pytest.fixture
def other_student(other_cohort):
    student = Student.objects.create(external_id="s900", name="Charles Babbage", email="charles@example.com")
    other_cohort.students.add(student)
    return student


@pytest.fixture
def add_assessment(teacher):
    """``add_assessment(student, score, days=0, subject="Math", **more)`` through the service."""

    def add(student, score, days=0, subject="Math", actor=None, **more):
        data = {"kind": "quiz", "subject": subject, "score": score, "taken_at": T0 + timedelta(days=days), **more}
        return services.record_assessment(actor=actor or teacher, student=student, data=data)

    return add
