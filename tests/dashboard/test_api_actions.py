"""actions/: the dashboard's audit trail, staff only and scoped; and the trail every API write
leaves (exactly one entry, via "api", with the request id and the actor)."""

import json

import pytest

from dashboard import performance, services
from dashboard.models import ConceptModule, Draft, Student
from veritas import audit
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/actions/"
API = "/api/v1/dashboard"


def listed(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def trail(student, other_student, teacher, other_teacher, add_assessment):
    """An entry about each student, written by their teachers, and a non-dashboard entry."""
    mine = add_assessment(student, 70)
    theirs = add_assessment(other_student, 40, actor=other_teacher)
    audit.record("create", actor=teacher, model=ActionLog, object_id="1")  # veritas.*, not the dashboard's
    return {
        "mine": ActionLog.objects.get(object_type="dashboard.assessmentlog", object_id=str(mine.pk)),
        "theirs": ActionLog.objects.get(object_type="dashboard.assessmentlog", object_id=str(theirs.pk)),
    }


# --- reading the trail --------------------------------------------------------------------------


def test_staff_see_the_entries_about_their_students(client_for, teacher, co_teacher, other_teacher, trail):
    assert listed(client_for(teacher).get(URL)) == [trail["mine"].pk]
    assert listed(client_for(co_teacher).get(URL)) == [trail["mine"].pk]  # a colleague's write
    assert listed(client_for(other_teacher).get(URL)) == [trail["theirs"].pk]
    assert client_for(other_teacher).get(f"{URL}{trail['mine'].pk}/").status_code == 404
    entry = client_for(teacher).get(f"{URL}{trail['mine'].pk}/").json()
    assert (entry["actor"], entry["verb"], entry["object_type"]) == ("teacher", "create", "dashboard.assessmentlog")
    assert float(entry["changes"]["after"]["score"]) == 70


def test_administrators_see_every_dashboard_entry_and_no_other(client_for, dashboard_admin, trail):
    assert set(listed(client_for(dashboard_admin).get(URL))) == {trail["mine"].pk, trail["theirs"].pk}


def test_non_staff_are_refused_and_anonymous_is_401(client_for, pupil, anon_client, trail):
    refused = client_for(pupil).get(URL)

    assert refused.status_code == 403
    assert "Staff only" in refused.json()["detail"]
    assert client_for(pupil).get(f"{URL}{trail['mine'].pk}/").status_code == 403
    assert anon_client.get(URL).status_code == 401


def test_filters_and_newest_first_by_cursor(client_for, dashboard_admin, teacher, student, add_assessment, trail):
    for score in (10, 20, 30):
        add_assessment(student, score)
    client = client_for(dashboard_admin)

    page = client.get(URL, {"page_size": 2, "actor": "teacher", "verb": "create"}).json()
    rest = client.get(page["next"]).json()
    assert [row["id"] for row in page["results"] + rest["results"]] == list(
        ActionLog.objects.filter(actor_name="teacher", object_type__startswith="dashboard.")
        .order_by("-at", "-id")
        .values_list("id", flat=True)
    )
    assert listed(client.get(URL, {"object_type": "dashboard.assessmentlog", "actor": "otherteacher"})) == [
        trail["theirs"].pk
    ]
    assert listed(
        client.get(URL, {"object_id": trail["mine"].object_id, "object_type": "dashboard.assessmentlog"})
    ) == [trail["mine"].pk]
    assert listed(client.get(URL, {"since": "2999-01-01T00:00:00Z"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "2026-01-01T00:00:00"}, "since"), ({"who": "teacher"}, "who"), ({"verb": ""}, "verb")],
)
def test_bad_filters_are_400(client_for, dashboard_admin, trail, params, field):
    response = client_for(dashboard_admin).get(URL, params)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_trail_is_read_only(client_for, dashboard_admin, trail):
    client = client_for(dashboard_admin)

    assert client.post(URL, {}, format="json").status_code == 405
    assert client.delete(f"{URL}{trail['mine'].pk}/").status_code == 405


def test_the_lists_queries_do_not_grow(client_for, teacher, student, add_assessment, django_assert_max_num_queries):
    for score in range(10):
        add_assessment(student, score)
    client = client_for(teacher)
    client.get(URL)

    with django_assert_max_num_queries(1):
        rows = client.get(URL).json()["results"]

    assert len(rows) == 10


# --- every API write leaves one entry -----------------------------------------------------------


@pytest.fixture
def world(student, pupil, teacher, cohort, add_assessment):
    module = ConceptModule.objects.create(subject="Math", code="ALG1", name="Expressions")
    assessment = add_assessment(student, 50)
    draft = services.create_draft(actor=pupil, student=student, title="Essay")
    submitted = services.create_draft(actor=pupil, student=student, title="Submitted")
    services.submit_draft(actor=pupil, draft=submitted)
    in_review = services.create_draft(actor=pupil, student=student, title="In review")
    services.submit_draft(actor=pupil, draft=in_review)
    services.start_review(actor=teacher, draft=in_review)
    spare = Student.objects.create(external_id="s050", name="Spare", email="spare@example.com")
    return {
        "student": student,
        "spare": spare,
        "cohort": cohort,
        "module": module,
        "assessment": assessment,
        "draft": draft,
        "submitted": submitted,
        "in_review": in_review,
    }


WRITES = [
    # (who, method, path, body, verb, object type)
    ("teacher", "post", "/students/", {"external_id": "s077", "name": "N", "email": "n@x.org", "cohorts": "{cohort}"},
     "create", "student"),
    ("co_teacher", "patch", "/students/{student.uuid}/", {"name": "Ada King"}, "update", "student"),
    ("dashboard_admin", "delete", "/students/{spare.uuid}/", None, "delete", "student"),
    ("dashboard_admin", "post", "/cohorts/", {"name": "C", "term": "T"}, "create", "cohort"),
    ("dashboard_admin", "patch", "/cohorts/{cohort.pk}/", {"name": "Renamed"}, "update", "cohort"),
    ("dashboard_admin", "delete", "/cohorts/{cohort.pk}/", None, "delete", "cohort"),
    ("dashboard_admin", "post", "/concept-modules/", {"subject": "M", "code": "M1", "name": "M"}, "create",
     "conceptmodule"),
    ("dashboard_admin", "patch", "/concept-modules/{module.pk}/", {"name": "Renamed"}, "update", "conceptmodule"),
    ("dashboard_admin", "delete", "/concept-modules/{module.pk}/", None, "delete", "conceptmodule"),
    ("teacher", "post", "/assessments/", {"student": "{student.uuid}", "kind": "quiz", "subject": "Math",
                                          "score": 70, "taken_at": "2026-10-01T09:00:00Z"}, "create", "assessmentlog"),
    ("co_teacher", "patch", "/assessments/{assessment.pk}/", {"score": 65}, "update", "assessmentlog"),
    ("teacher", "delete", "/assessments/{assessment.pk}/", None, "delete", "assessmentlog"),
    ("teacher", "post", "/assessments/bulk/", [{"student": "s001", "kind": "quiz", "subject": "Art", "score": 1,
                                                "taken_at": "2026-10-01T09:00:00Z"}], "import", "assessmentlog"),
    ("pupil", "post", "/drafts/", {"title": "New"}, "create", "draft"),
    ("pupil", "patch", "/drafts/{draft.pk}/", {"body": "words"}, "update", "draft"),
    ("pupil", "post", "/drafts/{draft.pk}/submit/", None, "submit", "draft"),
    ("co_teacher", "post", "/drafts/{submitted.pk}/start-review/", None, "start_review", "draft"),
    ("teacher", "post", "/drafts/{in_review.pk}/return/", {"feedback": "More."}, "return", "draft"),
    ("teacher", "post", "/drafts/{in_review.pk}/accept/", {}, "accept", "draft"),
]  # fmt: skip


def _fill(value, world):
    if value == "{cohort}":
        return [world["cohort"].pk]
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    return value


@pytest.mark.parametrize(("who", "method", "path", "body", "verb", "model"), WRITES)
def test_each_api_write_records_exactly_one_entry(request, client_for, world, who, method, path, body, verb, model):
    user = request.getfixturevalue(who)
    before = set(ActionLog.objects.values_list("pk", flat=True))
    client = client_for(user)

    response = client.generic(
        method.upper(),
        API + _fill(path, world),
        json.dumps(_fill(body, world)) if body is not None else "",
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-audit-0001",
    )

    assert response.status_code in (200, 201, 204), response.content
    [entry] = ActionLog.objects.exclude(pk__in=before)
    assert (entry.verb, entry.object_type, entry.via) == (verb, f"dashboard.{model}", "api")
    assert (entry.actor_id, entry.actor_name) == (user.pk, user.username)
    assert entry.request_id == response["X-Request-ID"] == "req-audit-0001"
    assert entry.client_address == "127.0.0.1"
    assert performance.differences() == []


def test_the_write_table_covers_every_write_operation():
    """A new write endpoint must join WRITES (and so be audited)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path.removeprefix(API))
        for path, items in schema["paths"].items()
        if path.startswith(API)
        for method in items
        if method in ("post", "put", "patch", "delete")
    }
    covered = {(method, _shape(path)) for _, method, path, *_ in WRITES}

    # PUT updates as PATCH does (the same service and entry).
    assert {(m, p) for m, p in operations if m != "put"} == covered


def _shape(path):
    """/students/{student.uuid}/ → /students/{uuid}/, as the schema names the parameter."""
    for name, parameter in [
        ("{student.uuid}", "{uuid}"),
        ("{spare.uuid}", "{uuid}"),
        ("{cohort.pk}", "{id}"),
        ("{module.pk}", "{id}"),
        ("{assessment.pk}", "{id}"),
        ("{draft.pk}", "{id}"),
        ("{submitted.pk}", "{id}"),
        ("{in_review.pk}", "{id}"),
    ]:
        path = path.replace(name, parameter)
    return path


def test_rejected_writes_record_nothing(client_for, teacher, pupil, world):
    before = ActionLog.objects.count()

    bad_score = client_for(teacher).post(
        f"{API}/assessments/",
        {
            "student": str(world["student"].uuid),
            "kind": "quiz",
            "subject": "M",
            "score": 500,
            "taken_at": "2026-10-01T09:00:00Z",
        },
        format="json",
    )
    illegal = client_for(teacher).post(f"{API}/drafts/{world['draft'].pk}/accept/", {}, format="json")
    refused = client_for(pupil).delete(f"{API}/assessments/{world['assessment'].pk}/")

    assert (bad_score.status_code, illegal.status_code, refused.status_code) == (400, 409, 403)
    assert ActionLog.objects.count() == before
    assert Draft.objects.get(pk=world["draft"].pk).status == "draft"
