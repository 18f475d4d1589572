"""concept-modules/: readable by everyone signed in, written with the model permissions;
prerequisites by code, acyclic."""

import pytest

from dashboard.models import ConceptModule

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/concept-modules/"


@pytest.fixture
def algebra():
    """ALG1 ← ALG2 ← ALG3 (each requires the one before)."""
    one = ConceptModule.objects.create(subject="Math", code="ALG1", name="Expressions", order=1)
    two = ConceptModule.objects.create(subject="Math", code="ALG2", name="Equations", order=2)
    three = ConceptModule.objects.create(subject="Math", code="ALG3", name="Systems", order=3)
    two.prerequisites.add(one)
    three.prerequisites.add(two)
    return one, two, three


@pytest.mark.parametrize("who", ["teacher", "other_teacher", "pupil", "dashboard_admin"])
def test_everyone_signed_in_reads_the_catalogue(request, client_for, algebra, who):
    client = client_for(request.getfixturevalue(who))

    listed = client.get(URL)
    one = client.get(f"{URL}{algebra[2].pk}/")

    assert [row["code"] for row in listed.json()["results"]] == ["ALG1", "ALG2", "ALG3"]
    assert one.json()["prerequisites"] == ["ALG2"]


def test_anonymous_is_401(anon_client, algebra):
    assert anon_client.get(URL).status_code == 401


def test_the_list_filters_by_subject_and_its_queries_do_not_grow(
    client_for, teacher, algebra, django_assert_max_num_queries
):
    for i in range(8):
        module = ConceptModule.objects.create(subject="Physics", code=f"PHY{i}", name=f"P{i}", order=i)
        module.prerequisites.add(*algebra)
    client = client_for(teacher)
    client.get(URL)

    with django_assert_max_num_queries(3):  # count, page, prerequisites
        body = client.get(URL, {"subject": "Physics"}).json()

    assert body["count"] == 8
    assert all(row["prerequisites"] == ["ALG1", "ALG2", "ALG3"] for row in body["results"])


def test_administrators_create_change_and_delete_modules(client_for, dashboard_admin, algebra):
    client = client_for(dashboard_admin)

    created = client.post(
        URL, {"subject": "Math", "code": "ALG4", "name": "Inequalities", "prerequisites": ["ALG1", "ALG3"]}
    )
    assert created.status_code == 201, created.content
    module = ConceptModule.objects.get(code="ALG4")
    assert sorted(module.prerequisites.values_list("code", flat=True)) == ["ALG1", "ALG3"]

    changed = client.patch(f"{URL}{module.pk}/", {"prerequisites": [], "order": 4}, format="json")
    assert changed.status_code == 200
    assert changed.json()["prerequisites"] == []

    assert client.delete(f"{URL}{module.pk}/").status_code == 204
    assert not ConceptModule.objects.filter(code="ALG4").exists()


@pytest.mark.parametrize("who", ["teacher", "pupil"])
def test_without_the_permissions_writes_are_403(request, client_for, algebra, who):
    client = client_for(request.getfixturevalue(who))

    created = client.post(URL, {"subject": "Math", "code": "X1", "name": "X"}, format="json")
    changed = client.patch(f"{URL}{algebra[0].pk}/", {"name": "Y"}, format="json")
    deleted = client.delete(f"{URL}{algebra[0].pk}/")

    assert (created.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert "dashboard.add_conceptmodule" in created.json()["detail"]
    assert ConceptModule.objects.count() == 3


def test_a_cycle_is_400_naming_prerequisites_and_the_modules(client_for, dashboard_admin, algebra):
    one = algebra[0]

    response = client_for(dashboard_admin).patch(f"{URL}{one.pk}/", {"prerequisites": ["ALG3"]}, format="json")

    assert response.status_code == 400
    message = response.json()["fields"]["prerequisites"][0]
    assert all(code in message for code in ("ALG1", "ALG2", "ALG3"))
    assert not one.prerequisites.exists()


def test_a_module_cannot_require_itself(client_for, dashboard_admin, algebra):
    one = algebra[0]

    response = client_for(dashboard_admin).patch(f"{URL}{one.pk}/", {"prerequisites": ["ALG1"]}, format="json")

    assert response.status_code == 400
    assert "ALG1 → ALG1" in response.json()["fields"]["prerequisites"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "ALG1"}, "code"),
        ({"prerequisites": ["NOPE"]}, "prerequisites"),
        ({"order": -1}, "order"),
        ({"code": "bad code"}, "code"),
        ({"level": 3}, "level"),
    ],
)
def test_bad_modules_are_400_naming_the_field(client_for, dashboard_admin, algebra, body, field):
    response = client_for(dashboard_admin).post(URL, {"subject": "Math", "code": "NEW1", "name": "N", **body})

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert ConceptModule.objects.count() == 3


def test_unknown_module_and_method(client_for, dashboard_admin, algebra):
    client = client_for(dashboard_admin)

    assert client.get(f"{URL}999999/").status_code == 404
    assert client.post(f"{URL}{algebra[0].pk}/", {}).status_code == 405
