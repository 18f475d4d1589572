"""cohorts/ and cohorts/{id}/overview/ (JSON and ?format=csv)."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Cohort, Student

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/cohorts/"
COLUMNS = [
    "uuid",
    "external_id",
    "name",
    "mean",
    "trend",
    "last_activity",
    "recent_assessments",
    "declining",
    "inactive",
]


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("who", ["teacher", "co_teacher"])
def test_staff_see_the_cohorts_they_teach(request, client_for, cohort, other_cohort, student, who):
    client = client_for(request.getfixturevalue(who))

    assert ids(client.get(URL)) == {cohort.pk}
    body = client.get(f"{URL}{cohort.pk}/").json()
    assert body["name"] == "Year 10 A"
    assert sorted(body["staff"]) == ["coteacher", "teacher"]
    assert body["students"] == [str(student.uuid)]


def test_a_stranger_and_the_pupil_do_not_see_the_cohort(
    client_for, other_teacher, pupil, cohort, other_cohort, student
):
    assert ids(client_for(other_teacher).get(URL)) == {other_cohort.pk}
    assert client_for(other_teacher).get(f"{URL}{cohort.pk}/").status_code == 404
    assert ids(client_for(pupil).get(URL)) == set()
    assert client_for(pupil).get(f"{URL}{cohort.pk}/").status_code == 404


def test_administrators_see_every_cohort(client_for, dashboard_admin, cohort, other_cohort):
    assert ids(client_for(dashboard_admin).get(URL)) == {cohort.pk, other_cohort.pk}


def test_anonymous_is_401(anon_client, cohort):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.get(f"{URL}{cohort.pk}/overview/").status_code == 401


def test_the_list_costs_the_same_with_more_cohorts(
    client_for, dashboard_admin, make_user, django_assert_max_num_queries
):
    for i in range(6):
        group = Cohort.objects.create(name=f"G{i}", term="2026 autumn")
        group.staff.add(make_user(f"t{i}", is_staff=True))
        for j in range(3):
            group.students.add(Student.objects.create(external_id=f"g{i}-{j}", name="N", email=f"g{i}{j}@x.org"))
    client = client_for(dashboard_admin)
    client.get(URL)

    with django_assert_max_num_queries(4):  # count, page, staff, students
        body = client.get(URL).json()

    assert body["count"] == 6
    assert all(len(row["students"]) == 3 and len(row["staff"]) == 1 for row in body["results"])


# --- writes: the model permissions --------------------------------------------------------------


def test_administrators_create_change_and_delete_cohorts(client_for, dashboard_admin, teacher, student):
    client = client_for(dashboard_admin)

    created = client.post(
        URL, {"name": "Year 11", "term": "2027 spring", "staff": ["teacher"], "students": [str(student.uuid)]}
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    cohort = Cohort.objects.get(pk=pk)
    assert list(cohort.staff.all()) == [teacher]
    assert list(cohort.students.all()) == [student]

    renamed = client.patch(f"{URL}{pk}/", {"name": "Year 11 X", "students": []}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["students"] == []

    assert client.delete(f"{URL}{pk}/").status_code == 204
    assert not Cohort.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("who", ["teacher", "pupil"])
def test_without_the_permissions_writes_are_403_naming_them(request, client_for, cohort, student, who):
    client = client_for(request.getfixturevalue(who))

    created = client.post(URL, {"name": "X", "term": "Y"}, format="json")
    changed = client.patch(f"{URL}{cohort.pk}/", {"name": "X"}, format="json")

    assert created.status_code == 403
    assert "dashboard.add_cohort" in created.json()["detail"]
    assert changed.status_code == 403
    assert client.delete(f"{URL}{cohort.pk}/").status_code == 403
    assert Cohort.objects.get(pk=cohort.pk).name == "Year 10 A"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Year 10 A", "term": "2026 autumn"}, "non_field_errors"),
        ({"name": "Z", "term": "T", "staff": ["nobody"]}, "staff"),
        ({"name": "Z", "term": "T", "students": ["not-a-uuid"]}, "students"),
        ({"name": "", "term": "T"}, "name"),
    ],
)
def test_bad_cohorts_are_400(client_for, dashboard_admin, cohort, body, field):
    response = client_for(dashboard_admin).post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert Cohort.objects.count() == 1


# --- the overview -------------------------------------------------------------------------------


@pytest.fixture
def classroom(cohort, student, add_assessment):
    """Ada declining (5 assessments, falling), Grace steady but idle, Alan never assessed."""
    now = timezone.now()
    for day, score in enumerate([95, 90, 80, 60, 40]):
        add_assessment(student, score, taken_at=now - timedelta(days=10 - day))
    grace = Student.objects.create(external_id="s002", name="Grace Hopper", email="grace@example.com")
    alan = Student.objects.create(external_id="s003", name="Alan Turing", email="alan@example.com")
    cohort.students.add(grace, alan)
    add_assessment(grace, 70, taken_at=now - timedelta(days=40))
    return {"ada": student, "grace": grace, "alan": alan}


def test_the_overview_has_a_row_per_student_with_the_flags(client_for, teacher, cohort, classroom):
    response = client_for(teacher).get(f"{URL}{cohort.pk}/overview/")

    assert response.status_code == 200
    rows = {row["external_id"]: row for row in response.json()}
    assert set(rows) == {"s001", "s002", "s003"}
    ada = rows["s001"]
    assert ada["uuid"] == str(classroom["ada"].uuid)
    assert ada["mean"] == pytest.approx(73.0)
    assert ada["trend"] < 0
    assert ada["recent_assessments"] == 5
    assert (ada["declining"], ada["inactive"]) == (True, False)
    assert (rows["s002"]["recent_assessments"], rows["s002"]["inactive"]) == (0, True)
    assert rows["s003"]["mean"] is None and rows["s003"]["last_activity"] is None
    assert list(ada) == COLUMNS


def test_the_overview_filters_by_flag(client_for, co_teacher, cohort, classroom):
    client = client_for(co_teacher)

    declining = client.get(f"{URL}{cohort.pk}/overview/", {"flag": "declining"}).json()
    inactive = client.get(f"{URL}{cohort.pk}/overview/", {"flag": "inactive"}).json()
    bad = client.get(f"{URL}{cohort.pk}/overview/", {"flag": "sleepy"})
    unknown = client.get(f"{URL}{cohort.pk}/overview/", {"flags": "inactive"})

    assert [row["external_id"] for row in declining] == ["s001"]
    assert {row["external_id"] for row in inactive} == {"s002", "s003"}
    assert bad.status_code == 400 and "flag" in bad.json()["fields"]
    assert unknown.status_code == 400 and "flags" in unknown.json()["fields"]


def test_the_overview_as_csv(client_for, teacher, cohort, classroom):
    response = client_for(teacher).get(f"{URL}{cohort.pk}/overview/", {"format": "csv"})
    by_accept = client_for(teacher).get(f"{URL}{cohort.pk}/overview/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"cohort-{cohort.pk}-overview.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["external_id"] for row in rows] == ["s001", "s003", "s002"]  # by name
    ada = rows[0]
    assert (ada["declining"], ada["inactive"], ada["recent_assessments"]) == ("True", "False", "5")
    assert float(ada["mean"]) == pytest.approx(73.0)
    assert rows[1]["mean"] == ""
    assert by_accept.content == response.content


def test_the_csv_keeps_its_header_when_empty_and_defuses_formulas(client_for, teacher, cohort, student):
    student.name = "=HYPERLINK(1)"
    student.save()

    empty = client_for(teacher).get(f"{URL}{cohort.pk}/overview/", {"format": "csv", "flag": "declining"})
    full = client_for(teacher).get(f"{URL}{cohort.pk}/overview/", {"format": "csv"})

    assert empty.content.decode().splitlines() == [",".join(COLUMNS)]
    assert next(iter(csv.DictReader(io.StringIO(full.content.decode()))))["name"] == "'=HYPERLINK(1)"


@pytest.mark.parametrize("who", ["other_teacher", "pupil"])
def test_the_overview_is_404_for_a_stranger_and_the_pupil(request, client_for, cohort, classroom, who):
    client = client_for(request.getfixturevalue(who))

    assert client.get(f"{URL}{cohort.pk}/overview/").status_code == 404
    assert client.get(f"{URL}{cohort.pk}/overview/", {"format": "csv"}).status_code == 404


def test_administrators_see_any_overview(client_for, dashboard_admin, cohort, classroom):
    assert len(client_for(dashboard_admin).get(f"{URL}{cohort.pk}/overview/").json()) == 3


@pytest.mark.parametrize("size", [1, 30])
def test_the_overview_costs_at_most_five_queries_whatever_the_size(
    client_for, teacher, cohort, add_assessment, django_assert_max_num_queries, size
):
    for i in range(size):
        pupil = Student.objects.create(external_id=f"q{i}", name=f"Q {i}", email=f"q{i}@example.com")
        cohort.students.add(pupil)
        add_assessment(pupil, 50 + i, taken_at=timezone.now() - timedelta(days=i))
    client = client_for(teacher)
    client.get(URL)  # the token is cached from here on

    with django_assert_max_num_queries(5):
        rows = client.get(f"{URL}{cohort.pk}/overview/").json()
    with django_assert_max_num_queries(5):
        exported = client.get(f"{URL}{cohort.pk}/overview/", {"format": "csv"})

    assert len(rows) == size
    assert len(exported.content.decode().splitlines()) == size + 1


def test_overview_of_a_cohort_that_does_not_exist(client_for, dashboard_admin):
    assert client_for(dashboard_admin).get(f"{URL}999999/overview/").status_code == 404


def test_put_replaces_the_memberships_it_names(client_for, dashboard_admin, cohort):
    response = client_for(dashboard_admin).put(
        f"{URL}{cohort.pk}/", {"name": "Year 10 A", "term": "2026 autumn", "staff": []}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["staff"] == []
    assert not cohort.staff.exists()


def test_an_unknown_format_is_400_after_authentication(client_for, anon_client, teacher, cohort):
    anonymous = anon_client.get(f"{URL}{cohort.pk}/overview/", {"format": "xml"})
    known = client_for(teacher).get(f"{URL}{cohort.pk}/overview/", {"format": "xml"})

    assert anonymous.status_code == 401
    assert known.status_code == 400
    assert "csv" in known.json()["fields"]["format"][0]
