"""assessments/: record one, list (filters, newest first by cursor), correct, delete; the
performance records stay exact."""

import uuid

import pytest

from dashboard import performance
from dashboard.models import AssessmentLog, ConceptModule, PerformanceRecord, Student
from tests.dashboard.conftest import T0

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/assessments/"


def body(who, **overrides):
    return {
        "student": str(who.uuid),
        "kind": "exam",
        "subject": "Math",
        "score": 85,
        "taken_at": "2026-10-05T09:00:00Z",
        **overrides,
    }


def listed(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def module():
    return ConceptModule.objects.create(subject="Math", code="ALG1", name="Expressions")


# --- recording ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "co_teacher", "dashboard_admin"])
def test_staff_of_the_cohort_and_administrators_record(request, client_for, student, module, who):
    user = request.getfixturevalue(who)

    response = client_for(user).post(
        URL, body(student, score="42.5", max_score=50, concept_modules=["ALG1"], comment="retake")
    )

    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["student"], row["score"], row["max_score"], row["percentage"]) == (
        str(student.uuid),
        "42.50",
        "50.00",
        85.0,
    )
    assert (row["concept_modules"], row["recorded_by"], row["taken_at"]) == (
        ["ALG1"],
        user.username,
        "2026-10-05T09:00:00Z",
    )
    record = PerformanceRecord.objects.get(student=student, scope="subject", subject="Math")
    assert (record.count, record.mean) == (1, 85.0)
    assert performance.differences() == []


def test_max_score_defaults_to_100(client_for, teacher, student):
    response = client_for(teacher).post(URL, body(student))

    assert response.json()["max_score"] == "100.00"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"score": 101}, "score"),
        ({"score": 60, "max_score": 50}, "score"),
        ({"score": -1}, "score"),
        ({"max_score": 0}, "max_score"),
        ({"score": "NaN"}, "score"),
        ({"kind": "essay"}, "kind"),
        ({"subject": ""}, "subject"),
        ({"taken_at": "2026-10-05T09:00:00"}, "taken_at"),
        ({"concept_modules": ["NOPE"]}, "concept_modules"),
        ({"grade": "A"}, "grade"),
    ],
)
def test_bad_assessments_are_400_naming_the_field(client_for, teacher, student, overrides, field):
    response = client_for(teacher).post(URL, body(student, **overrides))

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not AssessmentLog.objects.exists()


def test_a_student_one_may_not_see_reads_as_one_that_does_not_exist(client_for, teacher, other_student):
    client = client_for(teacher)
    unknown = str(uuid.uuid4())

    invisible = client.post(URL, body(other_student))
    missing = client.post(URL, body(other_student, student=unknown))
    malformed = client.post(URL, body(other_student, student="s900"))

    for response in (invisible, missing, malformed):
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["student"]
    said = [r.json()["fields"]["student"][0] for r in (invisible, missing, malformed)]
    assert (
        said[0].replace(str(other_student.uuid), "?") == said[1].replace(unknown, "?") == said[2].replace("s900", "?")
    )
    assert not AssessmentLog.objects.exists()


def test_the_pupil_reads_their_own_but_cannot_write(client_for, pupil, student, other_student, add_assessment):
    mine = add_assessment(student, 70)
    theirs = add_assessment(other_student, 50, actor=other_student.cohorts.get().staff.get())
    client = client_for(pupil)

    assert listed(client.get(URL)) == [mine.pk]
    assert client.get(f"{URL}{mine.pk}/").status_code == 200
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert client.post(URL, body(student)).status_code == 403
    assert client.patch(f"{URL}{mine.pk}/", {"score": 100}, format="json").status_code == 403
    assert client.delete(f"{URL}{mine.pk}/").status_code == 403
    assert AssessmentLog.objects.get(pk=mine.pk).score == 70


def test_anonymous_is_401(anon_client, student, add_assessment):
    assessment = add_assessment(student, 70)

    assert anon_client.get(URL).status_code == 401
    assert anon_client.get(f"{URL}{assessment.pk}/").status_code == 401
    assert anon_client.post(URL, body(student), format="json").status_code == 401


# --- reading ------------------------------------------------------------------------------------


def test_scoping_of_lists_and_objects(
    client_for, teacher, co_teacher, other_teacher, dashboard_admin, student, other_student, add_assessment
):
    mine = add_assessment(student, 70)
    theirs = add_assessment(other_student, 50, actor=other_teacher)

    assert listed(client_for(teacher).get(URL)) == [mine.pk]
    assert listed(client_for(co_teacher).get(URL)) == [mine.pk]
    assert listed(client_for(other_teacher).get(URL)) == [theirs.pk]
    assert set(listed(client_for(dashboard_admin).get(URL))) == {mine.pk, theirs.pk}
    assert client_for(other_teacher).get(f"{URL}{mine.pk}/").status_code == 404
    assert client_for(other_teacher).patch(f"{URL}{mine.pk}/", {"score": 1}, format="json").status_code == 404
    assert client_for(other_teacher).delete(f"{URL}{mine.pk}/").status_code == 404


def test_newest_first_by_cursor_with_filters(client_for, teacher, student, cohort, add_assessment):
    grace = Student.objects.create(external_id="s002", name="Grace", email="grace@example.com")
    cohort.students.add(grace)
    rows = [add_assessment(student, 50 + day, days=day) for day in range(5)]
    same_time = [add_assessment(grace, 60, days=2, subject="Physics", kind="exam") for _ in range(3)]
    client = client_for(teacher)

    first = client.get(URL, {"page_size": 3}).json()
    second = client.get(first["next"]).json()
    everything = [row["id"] for row in first["results"] + second["results"]]
    while second["next"]:
        second = client.get(second["next"]).json()
        everything += [row["id"] for row in second["results"]]

    expected = sorted(rows + same_time, key=lambda a: (a.taken_at, a.pk), reverse=True)
    assert everything == [a.pk for a in expected]
    assert listed(client.get(URL, {"student": str(grace.uuid)})) == sorted((a.pk for a in same_time), reverse=True)
    assert len(listed(client.get(URL, {"subject": "Physics", "kind": "exam"}))) == 3
    assert listed(client.get(URL, {"kind": "quiz", "since": "2026-09-03T09:00:00Z", "until": "2026-09-05T00:00Z"})) == [
        rows[3].pk,
        rows[2].pk,
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-09-03T09:00:00"}, "since"),
        ({"since": "2026-09-03T00:00:00Z", "until": "2026-09-01T00:00:00Z"}, "until"),
        ({"student": "s001"}, "student"),
        ({"kind": "essay"}, "kind"),
        ({"score": "85"}, "score"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_bad_filters_are_400_naming_them(client_for, teacher, student, params, field):
    response = client_for(teacher).get(URL, params)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_list_costs_the_same_with_more_rows(
    client_for, teacher, student, module, add_assessment, django_assert_max_num_queries
):
    for day in range(10):
        add_assessment(student, 50 + day, days=day, concept_modules=[module])
    client = client_for(teacher)
    client.get(URL)

    with django_assert_max_num_queries(2):  # the page (with student and recorder), the modules
        rows = client.get(URL).json()["results"]

    assert len(rows) == 10
    assert all(row["concept_modules"] == ["ALG1"] and row["student_external_id"] == "s001" for row in rows)


# --- correcting and deleting ----------------------------------------------------------------------


def test_a_colleague_corrects_and_the_records_follow(client_for, co_teacher, student, module, add_assessment):
    assessment = add_assessment(student, 40, concept_modules=[module])
    add_assessment(student, 80, days=1)

    response = client_for(co_teacher).patch(
        f"{URL}{assessment.pk}/", {"score": 90, "subject": "Physics", "concept_modules": []}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["score"], response.json()["subject"]) == ("90.00", "Physics")
    subjects = dict(PerformanceRecord.objects.filter(student=student, scope="subject").values_list("subject", "mean"))
    assert subjects == {"Math": 80.0, "Physics": 90.0}
    assert not PerformanceRecord.objects.filter(student=student, scope="concept").exists()
    assert performance.differences() == []


def test_a_correction_is_checked_against_the_stored_max_score(client_for, teacher, student, add_assessment):
    assessment = add_assessment(student, 40, max_score=50)
    client = client_for(teacher)

    above = client.patch(f"{URL}{assessment.pk}/", {"score": 60}, format="json")
    lowered = client.patch(f"{URL}{assessment.pk}/", {"max_score": 30}, format="json")

    assert above.status_code == 400 and "score" in above.json()["fields"]
    assert lowered.status_code == 400 and "max_score" in lowered.json()["fields"]
    assert AssessmentLog.objects.get(pk=assessment.pk).score == 40


def test_put_is_405_and_the_student_cannot_be_changed(client_for, teacher, student, other_student, add_assessment):
    assessment = add_assessment(student, 40)
    client = client_for(teacher)

    assert client.put(f"{URL}{assessment.pk}/", body(student)).status_code == 405
    moved = client.patch(f"{URL}{assessment.pk}/", {"student": str(other_student.uuid)}, format="json")
    assert moved.status_code == 400 and "student" in moved.json()["fields"]


def test_deleting_keeps_the_records_exact(client_for, teacher, student, add_assessment):
    first = add_assessment(student, 40)
    add_assessment(student, 80, days=1)

    assert client_for(teacher).delete(f"{URL}{first.pk}/").status_code == 204

    assert not AssessmentLog.objects.filter(pk=first.pk).exists()
    assert PerformanceRecord.objects.get(student=student, scope="overall").mean == 80.0
    assert performance.differences() == []


def test_out_of_order_back_fills_through_the_api_stay_exact(client_for, teacher, student):
    client = client_for(teacher)
    for day, score in [(5, 90), (1, 40), (3, 70), (2, 10)]:
        response = client.post(URL, body(student, score=score, taken_at=(T0.replace(day=day)).isoformat()))
        assert response.status_code == 201

    record = PerformanceRecord.objects.get(student=student, scope="overall")
    assert (record.count, record.last, record.best) == (4, 90.0, 90.0)
    assert performance.differences() == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": 5}, "subject"),
        ({"score": True}, "score"),
        ({"score": [1]}, "score"),
        ({"concept_modules": {"ALG1": 1}}, "concept_modules"),
        ({"concept_modules": [1]}, "concept_modules"),
        ({"student": 7}, "student"),
        ({"score": 0.005}, "score"),
    ],
)
def test_values_of_another_json_type_are_400_not_coerced(client_for, teacher, student, module, overrides, field):
    response = client_for(teacher).post(URL, body(student, **overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not AssessmentLog.objects.exists()


@pytest.mark.parametrize(("sent", "stored"), [(0.57, "0.57"), (85, "85.00"), ("99.5", "99.50")])
def test_scores_as_numbers_or_strings(client_for, teacher, student, sent, stored):
    response = client_for(teacher).post(URL, body(student, score=sent), format="json")

    assert response.status_code == 201
    assert response.json()["score"] == stored


def test_a_patch_without_a_body_is_400_and_an_empty_object_changes_nothing(
    client_for, teacher, student, add_assessment
):
    assessment = add_assessment(student, 40)
    client = client_for(teacher)

    missing = client.generic("PATCH", f"{URL}{assessment.pk}/")
    empty = client.patch(f"{URL}{assessment.pk}/", {}, format="json")

    assert missing.status_code == 400 and missing.json()["code"] == "parse_error"
    assert empty.status_code == 200 and empty.json()["score"] == "40.00"


def test_writes_are_throttled_like_the_rest_of_the_api(client_for, teacher, student, settings):
    settings.API_USER_WRITES_PER_MINUTE = 2
    client = client_for(teacher)

    statuses = [client.post(URL, body(student, score=score)).status_code for score in (1, 2, 3)]
    bulk = client.generic("POST", f"{URL}bulk/", "[]", content_type="application/json")

    assert statuses == [201, 201, 429]
    assert bulk.status_code == 429
    assert AssessmentLog.objects.count() == 2
    assert client.get(URL).status_code == 200  # reads are not counted
