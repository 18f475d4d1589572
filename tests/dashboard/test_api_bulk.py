"""assessments/bulk/: JSON or CSV, all-or-nothing, errors by row."""

import json

import pytest
from django.test import override_settings

from dashboard import ingest, performance
from dashboard.models import AssessmentLog, ConceptModule, PerformanceRecord
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/assessments/bulk/"


def row(i=0, **overrides):
    return {
        "student": "s001",
        "kind": "quiz",
        "subject": "Math",
        "score": 50 + i % 50,
        "taken_at": f"2026-10-{1 + i % 28:02}T09:00:00Z",
        **overrides,
    }


def post(client, payload, content_type="application/json"):
    data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.generic("POST", URL, data, content_type=content_type)


CSV = (
    "student,kind,subject,score,max_score,taken_at,concept_modules,comment\n"
    "s001,exam,Math,45,50,2026-10-01T09:00:00Z,ALG1;ALG2,first\n"
    "s001,quiz,Physics,7,10,2026-10-02T09:00:00+02:00,,\n"
)


@pytest.fixture
def modules():
    return [ConceptModule.objects.create(subject="Math", code=code, name=code) for code in ("ALG1", "ALG2")]


def test_a_json_array_is_stored_with_exact_records_and_one_audit_entry(client_for, teacher, student, modules):
    response = post(client_for(teacher), [row(i, concept_modules=["ALG1"] if i % 2 else []) for i in range(20)])

    assert response.status_code == 201, response.content
    assert response.json() == {"rows": 20, "created": 20, "students": 1}
    assert AssessmentLog.objects.filter(student=student, recorded_by=teacher).count() == 20
    assert PerformanceRecord.objects.get(student=student, scope="concept").count == 10
    assert performance.differences() == []
    entry = ActionLog.objects.get()
    assert (entry.verb, entry.object_type, entry.via) == ("import", "dashboard.assessmentlog", "api")
    assert entry.changes["counts"]["created"] == 20
    assert entry.request_id == response["X-Request-ID"]


def test_csv_is_stored(client_for, co_teacher, student, modules):
    response = post(client_for(co_teacher), CSV, content_type="text/csv")

    assert response.status_code == 201, response.content
    assert response.json() == {"rows": 2, "created": 2, "students": 1}
    physics = AssessmentLog.objects.get(subject="Physics")
    assert physics.taken_at.isoformat() == "2026-10-02T07:00:00+00:00"
    exam = AssessmentLog.objects.get(subject="Math")
    assert sorted(exam.concept_modules.values_list("code", flat=True)) == ["ALG1", "ALG2"]
    assert performance.differences() == []


def test_the_kind_is_read_whatever_its_case_and_spaces(client_for, teacher, student):
    response = post(client_for(teacher), [row(0, kind="EXAM"), row(1, kind=" Quiz ")])

    assert response.status_code == 201, response.content
    assert sorted(AssessmentLog.objects.values_list("kind", flat=True)) == ["exam", "quiz"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"score": 120}, "row"),
        ({"score": -5}, "score"),
        ({"kind": "essay"}, "kind"),
        ({"taken_at": "2026-10-01T09:00:00"}, "taken_at"),
        ({"student": "s900"}, "student"),  # another cohort's: as if it did not exist
        ({"student": "nobody"}, "student"),
        ({"concept_modules": ["NOPE"]}, "concept_modules"),
        ({"grade": "A"}, "grade"),
    ],
)
def test_one_bad_json_row_rejects_the_batch_naming_row_and_field(
    client_for, teacher, student, other_student, bad, field
):
    rows = [row(0), row(1), {**row(2), **bad}, row(3)]

    response = post(client_for(teacher), rows)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["2"]
    assert field in response.json()["fields"]["2"]
    assert not AssessmentLog.objects.exists()
    assert not PerformanceRecord.objects.exists()
    assert not ActionLog.objects.exists()


def test_a_csv_with_a_bad_line_is_400_naming_the_line_and_writes_nothing(client_for, teacher, student, modules):
    text = CSV + "s001,quiz,Math,abc,,2026-10-03T09:00:00Z,,\n" + "s001,quiz,Math,5,,2026-10-03T09:00:00Z,,\n"

    response = post(client_for(teacher), text, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["fields"] == {"line 4": {"score": ["Input should be a valid decimal"]}}
    assert not AssessmentLog.objects.exists()
    assert not ActionLog.objects.exists()


def test_unparseable_bodies_are_400_parse_errors(client_for, teacher, student):
    client = client_for(teacher)

    broken_json = post(client, "[{")
    not_an_array = post(client, {"student": "s001"})
    not_utf8 = post(client, b"student\n\xff\xfe", content_type="text/csv")

    assert broken_json.status_code == 400 and broken_json.json()["code"] == "parse_error"
    assert not_an_array.status_code == 400
    assert not_utf8.status_code == 400 and not_utf8.json()["code"] == "parse_error"


def test_more_than_max_rows_is_413(client_for, teacher, student):
    rows = [row(i) for i in range(ingest.MAX_ROWS + 1)]

    response = post(client_for(teacher), rows)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not AssessmentLog.objects.exists()


def test_more_than_max_rows_of_csv_is_413(client_for, teacher, student):
    text = "student,kind,subject,score,taken_at\n" + "s001,quiz,Math,5,2026-10-03T09:00:00Z\n" * (ingest.MAX_ROWS + 1)

    response = post(client_for(teacher), text, content_type="text/csv")

    assert response.status_code == 413
    assert not AssessmentLog.objects.exists()


def test_a_body_over_the_byte_limit_is_413(client_for, teacher, student):
    padded = "[" + " " * ingest.MAX_BYTES + "]"

    response = post(client_for(teacher), padded)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_bulk_limit_is_its_own_not_the_default(client_for, teacher, student):
    response = post(client_for(teacher), [row(i) for i in range(5)])

    assert response.status_code == 201


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "text/plain", "application/xml"])
def test_other_content_types_are_415(client_for, teacher, student, content_type):
    response = post(client_for(teacher), json.dumps([row()]), content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_the_pupil_and_a_stranger(client_for, pupil, other_teacher, student, other_student):
    refused = post(client_for(pupil), [row()])
    stranger = post(client_for(other_teacher), [row()])

    assert refused.status_code == 403
    assert stranger.status_code == 400  # s001 is not theirs: as if it did not exist
    assert stranger.json()["fields"]["0"]["student"]
    assert not AssessmentLog.objects.exists()


def test_administrators_import_for_anyone(client_for, dashboard_admin, student, other_student):
    response = post(client_for(dashboard_admin), [row(0), row(1, student="s900")])

    assert response.json() == {"rows": 2, "created": 2, "students": 2}


def test_anonymous_is_401_and_get_is_405(anon_client, client_for, teacher, student):
    assert post(anon_client, [row()]).status_code == 401
    assert client_for(teacher).get(URL).status_code == 405


def test_an_empty_array_creates_nothing_and_audits_nothing(client_for, teacher, student):
    response = post(client_for(teacher), [])

    assert response.json() == {"rows": 0, "created": 0, "students": 0}
    assert not ActionLog.objects.exists()


@pytest.mark.parametrize("text", ["student,kind,subject,score\ns001,quiz,Math,5\n", "{}", "\n"])
def test_a_csv_without_the_required_columns_is_one_parse_error(client_for, teacher, student, text):
    response = post(client_for(teacher), text, content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "taken_at" in response.json()["detail"]
    assert not AssessmentLog.objects.exists()


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_no_body_at_all_is_a_parse_error(client_for, teacher, student, content_type):
    response = post(client_for(teacher), "", content_type=content_type)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
