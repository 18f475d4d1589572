"""students/{uuid}/performance/: the stored records with the chosen mastery method."""

import pytest

from dashboard import performance
from dashboard.models import ConceptModule, Student

pytestmark = pytest.mark.django_db
FIELDS = {
    "subject",
    "concept_module",
    "count",
    "mean",
    "last",
    "best",
    "decaying",
    "n_mastery",
    "trend",
    "first_at",
    "last_at",
    "updated_at",
    "score",
    "mastered",
    "percentile",
}


def url(student):
    return f"/api/v1/dashboard/students/{student.uuid}/performance/"


@pytest.fixture
def scores(student, cohort, add_assessment):
    """Ada: Math 40, 60, 90 (ALG1 on the last two), Physics 50; a classmate lower in Math."""
    module = ConceptModule.objects.create(subject="Math", code="ALG1", name="Expressions")
    add_assessment(student, 40, days=0)
    add_assessment(student, 60, days=1, concept_modules=[module])
    add_assessment(student, 90, days=2, concept_modules=[module])
    add_assessment(student, 50, days=3, subject="Physics")
    classmate = Student.objects.create(external_id="s002", name="Grace", email="grace@example.com")
    cohort.students.add(classmate)
    add_assessment(classmate, 30, days=1)
    return module


def test_the_default_method_is_the_decaying_average(client_for, teacher, student, scores):
    response = client_for(teacher).get(url(student))

    assert response.status_code == 200
    body = response.json()
    assert (body["student"], body["method"], body["threshold"]) == (str(student.uuid), "decaying_average", 60.0)
    assert set(body["overall"]) == FIELDS
    assert body["overall"]["count"] == 4
    math = next(row for row in body["subjects"] if row["subject"] == "Math")
    # D1 = 40, D2 = 0.35·40 + 0.65·60 = 53, D3 = 0.35·53 + 0.65·90 = 77.05
    assert math["decaying"] == pytest.approx(77.05)
    assert math["score"] == pytest.approx(77.05)
    assert (math["count"], math["best"], math["last"], math["mastered"]) == (3, 90.0, 90.0, True)
    assert math["percentile"] == 100.0  # above its only peer in Math
    physics = next(row for row in body["subjects"] if row["subject"] == "Physics")
    assert physics["percentile"] is None  # no peer has Physics
    [concept] = body["concepts"]
    assert concept["concept_module"] == {"id": scores.pk, "code": "ALG1", "name": "Expressions", "subject": "Math"}
    assert concept["count"] == 2


@pytest.mark.parametrize(
    ("method", "math_score", "mastered"),
    [("highest", 90.0, True), ("latest", 90.0, True), ("average", 190 / 3, True), ("n_mastery", None, None)],
)
def test_each_method_scores_with_its_column(client_for, teacher, student, scores, method, math_score, mastered):
    body = client_for(teacher).get(url(student), {"method": method}).json()

    math = next(row for row in body["subjects"] if row["subject"] == "Math")
    assert body["method"] == method
    # n-mastery needs N (3) scores at or above the threshold: Math has two, so no score yet.
    assert math["score"] == (pytest.approx(math_score) if math_score is not None else None)
    assert math["mastered"] is mastered


def test_an_unknown_method_or_parameter_is_400_naming_it(client_for, teacher, student, scores):
    client = client_for(teacher)

    bad_method = client.get(url(student), {"method": "median"})
    unknown = client.get(url(student), {"methd": "latest"})

    assert bad_method.status_code == 400 and "method" in bad_method.json()["fields"]
    assert unknown.status_code == 400 and "methd" in unknown.json()["fields"]


def test_a_student_without_assessments(client_for, teacher, student):
    body = client_for(teacher).get(url(student)).json()

    assert (body["overall"], body["subjects"], body["concepts"]) == (None, [], [])


@pytest.mark.parametrize("who", ["teacher", "co_teacher", "pupil", "dashboard_admin"])
def test_who_may_read_it(request, client_for, student, scores, who):
    assert client_for(request.getfixturevalue(who)).get(url(student)).status_code == 200


def test_a_stranger_gets_404_and_anonymous_401(client_for, other_teacher, anon_client, student, scores):
    assert client_for(other_teacher).get(url(student)).status_code == 404
    assert anon_client.get(url(student)).status_code == 401


def test_the_pupil_cannot_read_a_classmate(client_for, pupil, cohort, scores):
    classmate = Student.objects.get(external_id="s002")

    assert client_for(pupil).get(url(classmate)).status_code == 404


def test_at_most_three_queries_however_many_assessments(
    client_for, teacher, student, scores, add_assessment, django_assert_max_num_queries
):
    for day in range(30):
        add_assessment(student, day * 3, days=10 + day, subject=["Math", "Art", "Music"][day % 3])
    client = client_for(teacher)
    client.get(url(student))

    with django_assert_max_num_queries(3):
        body = client.get(url(student), {"method": "latest"}).json()

    assert body["overall"]["count"] == 34
    assert performance.differences() == []
