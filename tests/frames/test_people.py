"""A student's status follows from the terms they have left (the legacy rule), in Python and in
the database."""

import pytest
from django.db import IntegrityError, transaction

from frames.models import Student

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("terms", "status"),
    [(6, "incoming"), (4, "incoming"), (3, "established"), (2, "established"), (1, "outgoing"), (0, "outgoing")],
)
def test_status_follows_the_terms_remaining(university, terms, status):
    student = Student.objects.create(university=university, name="Ada", terms_remaining=terms)

    assert student.status == status == Student.objects.get(pk=student.pk).status


def test_a_new_student_is_incoming_and_the_database_keeps_status_in_step(university):
    student = Student.objects.create(university=university, name="Ada")

    assert (student.terms_remaining, student.status) == (4, "incoming")
    with pytest.raises(IntegrityError), transaction.atomic():
        Student.objects.filter(pk=student.pk).update(terms_remaining=1)  # status left behind
