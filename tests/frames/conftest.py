"""Two universities (A leads the consortium), a team at each, and the baseline model the
migrations seed."""

import pytest
from django.contrib.auth.models import Permission

from frames.models import FactorModel, FactorValue, Faculty, Interface, Project, Student, Team, University


@pytest.fixture
def university(db):
    return University.objects.create(code="cpp", name="Cal Poly Pomona", is_lead=True)


@pytest.fixture
def other_university(db):
    return University.objects.create(code="txst", name="Texas State University")


@pytest.fixture
def team(university):
    return Team.objects.create(university=university, name="Software", discipline="software")


@pytest.fixture
def other_team(other_university):
    return Team.objects.create(university=other_university, name="PROVES team", discipline="interdisciplinary")


@pytest.fixture
def baseline(db):
    return FactorModel.objects.get(name="baseline_v1")


@pytest.fixture
def value():
    """``value("bond_strength", "weak")`` -> that FactorValue."""

    def find(factor: str, name: str) -> FactorValue:
        return FactorValue.objects.select_related("factor").get(factor__name=factor, name=name)

    return find


@pytest.fixture
def faculty(make_user, university):
    """A faculty member of ``university`` (the owner of its data)."""
    user = make_user("faculty_a")
    Faculty.objects.create(university=university, user=user, name="Dr. A", role="Principal Investigator")
    return user


@pytest.fixture
def other_faculty(make_user, other_university):
    user = make_user("faculty_b")
    Faculty.objects.create(university=other_university, user=user, name="Dr. B")
    return user


@pytest.fixture
def researcher(make_user):
    user = make_user("researcher")
    user.user_permissions.add(Permission.objects.get(codename="research", content_type__app_label="frames"))
    return type(user).objects.get(pk=user.pk)  # permissions are cached per instance


def link(source, target, interface_type="concurrent") -> Interface:
    """A saved interface from ``source`` to ``target`` (teams, projects, ...)."""
    interface = Interface.between(source, target, interface_type)
    interface.save()
    return interface


@pytest.fixture
def pupil(make_user, university, team):
    """A student of ``university`` on ``team`` with a login of their own."""
    user = make_user("pupil_f")
    Student.objects.create(university=university, team=team, name="Pupil", user=user, terms_remaining=2)
    return user


@pytest.fixture
def world(university, other_university, team, other_team):
    """A's and B's projects (and the consortium's PROVES), an interface inside A, one inside B
    and one across the two."""
    proves = Project.objects.create(name="PROVES", is_collaborative=True, type="consortium")
    own = Project.objects.create(university=university, name="CubeSat")
    theirs = Project.objects.create(university=other_university, name="Balloon")
    return {
        "cross": link(team, other_team, "external"),
        "internal": link(team, own),
        "elsewhere": link(other_team, Team.objects.create(university=other_university, name="Comms")),
        "proves": proves,
        "own": own,
        "theirs": theirs,
    }
