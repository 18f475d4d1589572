"""Who sees what (``visible_to``): faculty their university's rows and the interfaces with an end
there, researchers everything, a student their own record, anyone else nothing."""

import pytest

from frames.models import Interface, Project, Student, Team, University

pytestmark = pytest.mark.django_db


def test_faculty_see_their_university_and_interfaces_with_an_end_there(faculty, other_faculty, world, university):
    assert set(Interface.objects.visible_to(faculty)) == {world["cross"], world["internal"]}
    assert set(Interface.objects.visible_to(other_faculty)) == {world["cross"], world["elsewhere"]}
    assert list(University.objects.visible_to(faculty)) == [university]
    assert set(Team.objects.visible_to(faculty).values_list("university_id", flat=True)) == {university.pk}
    assert set(Project.objects.visible_to(faculty)) == {world["proves"], world["own"]}  # consortium projects too


def test_a_researcher_sees_everything_and_a_stranger_nothing(researcher, make_user, world):
    stranger = make_user("stranger_f")

    assert Interface.objects.visible_to(researcher).count() == 3
    assert University.objects.visible_to(researcher).count() == 2
    for queryset in (Interface.objects, University.objects, Team.objects, Project.objects, Student.objects):
        assert not queryset.visible_to(stranger).exists()


def test_a_student_sees_their_own_record_only(pupil, university):
    Student.objects.create(university=university, name="Classmate")

    assert list(Student.objects.visible_to(pupil)) == [Student.objects.get(user=pupil)]
    assert not Interface.objects.visible_to(pupil).exists()
