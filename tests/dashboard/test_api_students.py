"""students/: the register through the API, scoped (owner = the teacher of the student's
cohort, colleague = the co-teacher, stranger = another cohort's teacher)."""

import pytest
from django.core.exceptions import PermissionDenied

from dashboard import services
from dashboard.models import Student
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/students/"


def url(student):
    return f"{URL}{student.uuid}/"


def uuids(response):
    assert response.status_code == 200, response.content
    return {row["uuid"] for row in response.json()["results"]}


def new(**overrides):
    return {"external_id": "s002", "name": "Grace Hopper", "email": "grace@example.com", **overrides}


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "co_teacher", "dashboard_admin"])
def test_staff_of_the_cohort_and_administrators_see_the_student(request, client_for, student, other_student, who):
    client = client_for(request.getfixturevalue(who))

    listed = uuids(client.get(URL))
    one = client.get(url(student))

    assert str(student.uuid) in listed
    assert (str(other_student.uuid) in listed) == (who == "dashboard_admin")
    assert one.status_code == 200
    body = one.json()
    assert body["external_id"] == "s001"
    assert body["user"] == "pupil"
    assert body["cohorts"] == [student.cohorts.get().pk]


def test_a_stranger_gets_404_and_an_empty_list(client_for, other_teacher, student):
    client = client_for(other_teacher)

    assert str(student.uuid) not in uuids(client.get(URL))
    response = client.get(url(student))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_pupil_sees_only_their_own_record(client_for, pupil, student, cohort):
    classmate = Student.objects.create(external_id="s003", name="Alan Turing", email="alan@example.com")
    cohort.students.add(classmate)
    client = client_for(pupil)

    assert uuids(client.get(URL)) == {str(student.uuid)}
    assert client.get(url(student)).status_code == 200
    assert client.get(url(classmate)).status_code == 404


def test_anonymous_is_401(anon_client, student):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.get(url(student)).status_code == 401
    assert anon_client.post(URL, new(), format="json").status_code == 401


def test_search_cohort_and_active_filters(client_for, dashboard_admin, student, other_student, cohort, other_cohort):
    Student.objects.create(external_id="x-77", name="Retired", email="old@example.org", is_active=False)
    client = client_for(dashboard_admin)

    assert uuids(client.get(URL, {"search": "LOVELACE"})) == {str(student.uuid)}
    assert uuids(client.get(URL, {"search": "charles@"})) == {str(other_student.uuid)}
    assert len(uuids(client.get(URL, {"search": "x-7"}))) == 1
    assert uuids(client.get(URL, {"cohort": other_cohort.pk})) == {str(other_student.uuid)}
    assert len(uuids(client.get(URL, {"is_active": "false"}))) == 1
    assert len(uuids(client.get(URL, {"is_active": "true"}))) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sorch": "a"}, "sorch"), ({"cohort": "1.5"}, "cohort"), ({"search": ""}, "search"), ({"page": "0"}, "page")],
)
def test_bad_query_parameters_are_400_naming_them(client_for, teacher, student, params, field):
    response = client_for(teacher).get(URL, params)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_list_is_paginated_and_its_queries_do_not_grow(
    client_for, dashboard_admin, cohort, other_cohort, django_assert_max_num_queries
):
    for i in range(12):
        student = Student.objects.create(external_id=f"p{i:03}", name=f"Pupil {i}", email=f"p{i}@example.com")
        (cohort if i % 2 else other_cohort).students.add(student)
    client = client_for(dashboard_admin)
    client.get(URL)  # the token is cached from here on

    with django_assert_max_num_queries(3):  # count, page, cohorts
        response = client.get(URL, {"page_size": 5})

    body = response.json()
    assert body["count"] == 12
    assert len(body["results"]) == 5
    assert all(len(row["cohorts"]) == 1 for row in body["results"])
    assert client.get(URL, {"page": 3, "page_size": 5}).json()["next"] is None


# --- writing ------------------------------------------------------------------------------------


def test_a_teacher_creates_a_student_in_their_cohort(client_for, teacher, cohort):
    response = client_for(teacher).post(URL, new(cohorts=[cohort.pk]), format="json")

    assert response.status_code == 201, response.content
    created = Student.objects.get(external_id="s002")
    assert response.json()["uuid"] == str(created.uuid)
    assert list(created.cohorts.all()) == [cohort]


@pytest.mark.parametrize("cohorts", [[], "other"])
def test_a_teacher_cannot_create_outside_their_cohorts(client_for, teacher, other_cohort, cohorts):
    body = new(cohorts=[other_cohort.pk] if cohorts == "other" else cohorts)

    response = client_for(teacher).post(URL, body, format="json")

    # Another's cohort cannot even be named (400, as an unknown one); no cohort at all is 403.
    assert response.status_code == (400 if cohorts == "other" else 403)
    assert not Student.objects.filter(external_id="s002").exists()


def test_an_administrator_creates_without_a_cohort(client_for, dashboard_admin):
    response = client_for(dashboard_admin).post(URL, new(), format="json")

    assert response.status_code == 201
    assert response.json()["cohorts"] == []


def test_the_pupil_cannot_write(client_for, pupil, student, cohort):
    client = client_for(pupil)

    assert client.post(URL, new(cohorts=[]), format="json").status_code == 403
    assert client.patch(url(student), {"name": "Ada King"}, format="json").status_code == 403
    assert client.delete(url(student)).status_code == 403
    student.refresh_from_db()
    assert student.name == "Ada Lovelace"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ADA@example.COM"}, "email"),
        ({"external_id": "s001"}, "external_id"),
        ({"email": "not-an-email"}, "email"),
        ({"external_id": "has space"}, "external_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_or_duplicate_fields_are_400_naming_them(client_for, dashboard_admin, student, body, field):
    response = client_for(dashboard_admin).post(URL, new(**body), format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert Student.objects.count() == 1


def test_colleagues_update_a_student_and_the_email_stays_unique(client_for, co_teacher, student, other_student):
    client = client_for(co_teacher)

    patched = client.patch(url(student), {"name": "Ada King"}, format="json")
    clash = client.patch(url(student), {"email": "Charles@Example.com"}, format="json")
    same = client.patch(url(student), {"email": "ADA@example.com"}, format="json")  # its own, recased
    full = client.put(url(student), {"external_id": "s001", "name": "Ada K.", "email": "ada@example.com"})

    assert patched.status_code == 200
    assert patched.json()["name"] == "Ada King"
    assert clash.status_code == 400
    assert "email" in clash.json()["fields"]
    assert same.status_code == 200
    assert full.status_code == 200
    student.refresh_from_db()
    assert (student.name, student.email) == ("Ada K.", "ada@example.com")


def test_put_needs_every_required_field(client_for, teacher, student):
    response = client_for(teacher).put(url(student), {"name": "Ada"}, format="json")

    assert response.status_code == 400
    assert {"external_id", "email"} <= set(response.json()["fields"])


def test_a_stranger_cannot_write_the_student(client_for, other_teacher, student):
    client = client_for(other_teacher)

    assert client.patch(url(student), {"name": "X"}, format="json").status_code == 404
    assert client.delete(url(student)).status_code == 404


def test_linking_a_login_needs_the_change_permission(client_for, teacher, dashboard_admin, student, make_user):
    make_user("newlogin")
    other = Student.objects.create(external_id="s004", name="Mary", email="mary@example.com")
    student.cohorts.get().students.add(other)

    refused = client_for(teacher).patch(f"{URL}{other.uuid}/", {"user": "nobody-at-all"}, format="json")
    linked = client_for(dashboard_admin).patch(f"{URL}{other.uuid}/", {"user": "newlogin"}, format="json")
    taken = client_for(dashboard_admin).patch(f"{URL}{other.uuid}/", {"user": "pupil"}, format="json")

    # Refused before the username is looked up: a teacher cannot probe who has a login.
    assert refused.status_code == 403
    assert linked.status_code == 200
    assert linked.json()["user"] == "newlogin"
    assert taken.status_code == 400
    assert "user" in taken.json()["fields"]


def test_deleting_needs_the_delete_permission(client_for, teacher, dashboard_admin, student):
    assert client_for(teacher).delete(url(student)).status_code == 403

    assert client_for(dashboard_admin).delete(url(student)).status_code == 204
    assert not Student.objects.filter(pk=student.pk).exists()


def test_methods_and_ids_that_do_not_exist(client_for, dashboard_admin, student):
    client = client_for(dashboard_admin)

    assert client.post(url(student), {}, format="json").status_code == 405
    assert client.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get(f"{URL}{student.pk}/").status_code == 404  # not by the integer id


def test_a_write_with_a_query_parameter_is_400(client_for, dashboard_admin):
    response = client_for(dashboard_admin).post(f"{URL}?dry=1", new(), format="json")

    assert response.status_code == 400
    assert "dry" in response.json()["fields"]
    assert not ActionLog.objects.exists()


def test_json_types_are_not_coerced(client_for, dashboard_admin, student):
    client = client_for(dashboard_admin)

    blank_login = client.patch(url(student), {"user": ""}, format="json")
    number_name = client.patch(url(student), {"name": 5}, format="json")
    string_flag = client.patch(url(student), {"is_active": "no"}, format="json")
    object_cohorts = client.post(URL, new(cohorts={}), format="json")
    null_filter = client.get(URL, {"is_active": "null"})

    for response, field in [
        (blank_login, "user"),
        (number_name, "name"),
        (string_flag, "is_active"),
        (object_cohorts, "cohorts"),
        (null_filter, "is_active"),
    ]:
        assert response.status_code == 400, field
        assert field in response.json()["fields"]
    student.refresh_from_db()
    assert (student.user.username, student.name, student.is_active) == ("pupil", "Ada Lovelace", True)


def test_staff_cannot_link_a_login_when_creating_either(client_for, teacher, cohort, make_user):
    make_user("someone")

    response = client_for(teacher).post(URL, new(cohorts=[cohort.pk], user="someone"), format="json")

    assert response.status_code == 403
    assert not Student.objects.filter(external_id="s002").exists()


def test_the_service_refuses_the_link_too(teacher, cohort, make_user):
    with pytest.raises(PermissionDenied):
        services.create_student(actor=teacher, data={**new(), "user": make_user("someone")}, cohorts=[cohort])
