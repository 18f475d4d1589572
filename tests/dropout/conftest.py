"""The dropout app's cast: support staff (the "Dropout risk staff" group) see every enrolment;
a teacher sees the students of their cohort; a colleague teaches the same cohort; a stranger
teaches another. Data: synthetic OULAD files (tests/dropout/oulad.py) imported by the command."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from dashboard.models import Cohort, Student
from dropout import synthetic as oulad
from dropout.apps import SUPPORT_STAFF
from dropout.models import Enrollment


@pytest.fixture
def support(make_user):
    user = make_user("support", email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_STAFF))
    return user


@pytest.fixture
def teacher(make_user):
    return make_user("teacher", email="teacher@example.com", is_staff=True)


@pytest.fixture
def colleague(make_user):
    return make_user("colleague", email="colleague@example.com", is_staff=True)


@pytest.fixture
def other_teacher(make_user):
    return make_user("otherteacher", email="otherteacher@example.com", is_staff=True)


def load(directory, **options) -> oulad.Oulad:
    written = oulad.write(directory, **options)
    call_command("import_oulad", str(directory), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return written


@pytest.fixture
def dataset(tmp_path):
    """Synthetic OULAD with a planted signal, imported."""
    return load(tmp_path / "oulad")


@pytest.fixture
def cohorts(dataset, teacher, colleague, other_teacher):
    """The teacher's cohort holds the first ten students enrolled on a 2014B presentation; the
    other teacher's the next ten."""
    students = list(
        Student.objects.filter(enrollments__presentation__code="2014B", enrollments__unregistered_day__isnull=True)
        .distinct()
        .order_by("external_id")
    )
    mine = Cohort.objects.create(name="Support group A", term="2014")
    mine.staff.add(teacher, colleague)
    mine.students.add(*students[:10])
    theirs = Cohort.objects.create(name="Support group B", term="2014")
    theirs.staff.add(other_teacher)
    theirs.students.add(*students[10:20])
    return mine, theirs


@pytest.fixture
def my_enrollment(cohorts):
    return (
        Enrollment.objects.filter(student__in=cohorts[0].students.all(), presentation__code="2014B")
        .order_by("pk")
        .first()
    )


@pytest.fixture
def their_enrollment(cohorts):
    return (
        Enrollment.objects.filter(student__in=cohorts[1].students.all(), presentation__code="2014B")
        .order_by("pk")
        .first()
    )


@pytest.fixture
def predicted(cohorts):
    """An active model (withdrawn, day 70) and its predictions for the 2014B presentations."""
    from dropout import predicting, training

    model = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"], activate=True
    )
    predicting.predict(model, training.presentations(["2014B"]))
    return model
