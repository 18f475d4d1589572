"""The dropout API with the cast: support staff see all; a teacher and a colleague the students
of their cohort; a stranger (another cohort's teacher) none of them (404); non-staff nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dropout.models import DropoutModel, DropoutPrediction, Enrollment, LearningEvent

pytestmark = pytest.mark.django_db

API = "/api/v1/dropout"


def test_enrollments_are_scoped(client_for, support, teacher, colleague, other_teacher, owner, cohorts, predicted):
    mine, theirs = cohorts
    total = Enrollment.objects.count()
    assert client_for(support).get(f"{API}/enrollments/", {"page_size": 1}).json()["count"] == total
    for user in (teacher, colleague):
        body = client_for(user).get(f"{API}/enrollments/?page_size=100").json()
        assert {row["student"]["uuid"] for row in body["results"]} == {str(s.uuid) for s in mine.students.all()}
    body = client_for(other_teacher).get(f"{API}/enrollments/?page_size=100").json()
    assert {row["student"]["uuid"] for row in body["results"]} == {str(s.uuid) for s in theirs.students.all()}
    response = client_for(owner).get(f"{API}/enrollments/")
    assert response.status_code == 403 and "Staff only" in response.json()["detail"]


def test_enrollment_detail_of_another_cohort_is_404(client_for, teacher, my_enrollment, their_enrollment, predicted):
    client = client_for(teacher)
    body = client.get(f"{API}/enrollments/{my_enrollment.pk}/").json()
    assert body["id"] == my_enrollment.pk and body["presentation"]["course"] and "band" in body
    assert client.get(f"{API}/enrollments/{their_enrollment.pk}/").status_code == 404


def test_enrollment_filters(client_for, support, predicted):
    client = client_for(support)
    high = client.get(f"{API}/enrollments/", {"band": "high", "page_size": 200}).json()
    assert high["count"] == DropoutPrediction.objects.filter(band="high").count() > 0
    assert {row["band"] for row in high["results"]} == {"high"}
    withdrawn = client.get(f"{API}/enrollments/", {"result": "withdrawn", "page_size": 1}).json()
    assert withdrawn["count"] == Enrollment.objects.filter(final_result="withdrawn").count()
    presentation = Enrollment.objects.first().presentation
    body = client.get(f"{API}/enrollments/", {"presentation": presentation.pk, "page_size": 1}).json()
    assert body["count"] == presentation.enrollments.count()
    for bad in ({"band": "extreme"}, {"presentation": "1.5"}, {"colour": "red"}, {"result": "maybe"}):
        response = client.get(f"{API}/enrollments/", bad)
        assert response.status_code == 400, bad
        assert set(response.json()["fields"]) == set(bad)


def test_lists_take_a_fixed_number_of_queries(client_for, support, predicted):
    client = client_for(support)
    client.get(f"{API}/models/")  # the token is looked up once, then cached
    counts = []
    for size in (5, 50):
        for url in (f"{API}/enrollments/", f"{API}/predictions/"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, {"page_size": size}).status_code == 200
            counts.append((url, len(queries)))
    assert counts[0][1] == counts[2][1] and counts[1][1] == counts[3][1]
    assert max(count for _, count in counts) <= 3


def test_predictions_highest_first_with_reasons(client_for, support, teacher, other_teacher, cohorts, predicted):
    body = client_for(support).get(f"{API}/predictions/", {"page_size": 200}).json()
    probabilities = [row["probability"] for row in body["results"]]
    assert probabilities == sorted(probabilities, reverse=True)
    top = body["results"][0]
    assert top["reasons"] and {"feature", "value", "contribution", "text"} <= top["reasons"][0].keys()
    assert top["model"]["id"] == predicted.pk and top["cutoff_day"] == 70
    mine = client_for(teacher).get(f"{API}/predictions/", {"page_size": 200}).json()
    assert {row["student"]["uuid"] for row in mine["results"]} <= {str(s.uuid) for s in cohorts[0].students.all()}
    assert mine["count"] > 0
    theirs = client_for(other_teacher).get(f"{API}/predictions/", {"page_size": 200}).json()
    assert not {row["id"] for row in mine["results"]} & {row["id"] for row in theirs["results"]}
    one = mine["results"][0]["id"]
    assert client_for(teacher).get(f"{API}/predictions/{one}/").status_code == 200
    assert client_for(other_teacher).get(f"{API}/predictions/{one}/").status_code == 404
    filtered = client_for(support).get(f"{API}/predictions/", {"band": "low", "cutoff_day": 70, "target": "withdrawn"})
    assert {row["band"] for row in filtered.json()["results"]} == {"low"}
    assert client_for(support).get(f"{API}/predictions/", {"cutoff_day": "70.5"}).status_code == 400


def test_student_risk(client_for, support, teacher, colleague, other_teacher, my_enrollment, predicted):
    uuid = my_enrollment.student.uuid
    for user in (support, teacher, colleague):
        response = client_for(user).get(f"{API}/students/{uuid}/risk/")
        assert response.status_code == 200
        body = response.json()
        assert body["student"]["uuid"] == str(uuid)
        enrolment = next(e for e in body["enrollments"] if e["enrollment"] == my_enrollment.pk)
        (prediction,) = enrolment["predictions"]
        assert prediction["band"] in ("low", "medium", "high") and prediction["model"]["target"] == "withdrawn"
    assert client_for(other_teacher).get(f"{API}/students/{uuid}/risk/").status_code == 404
    assert client_for(support).get(f"{API}/students/00000000-0000-0000-0000-000000000000/risk/").status_code == 404
    assert client_for(support).get(f"{API}/students/not-a-uuid/risk/").status_code == 404


def test_models_and_their_cards(client_for, teacher, owner, predicted):
    client = client_for(teacher)
    listed = client.get(f"{API}/models/").json()
    assert [row["id"] for row in listed["results"]] == [predicted.pk]
    assert "card" not in listed["results"][0] and "artefact" not in listed["results"][0]
    detail = client.get(f"{API}/models/{predicted.pk}/").json()
    assert detail["card"]["groups"]["gender"] and detail["sha256"] == predicted.sha256
    assert client.get(f"{API}/models/", {"is_active": "true", "target": "withdrawn"}).json()["count"] == 1
    assert client_for(owner).get(f"{API}/models/").status_code == 403
    assert client.get(f"{API}/models/999999/").status_code == 404


def train_body(**more):
    return {
        "target": "withdrawn",
        "cutoff_day": 70,
        "train_presentations": ["2013B", "2013J"],
        "validation_presentations": ["2014B"],
        **more,
    }


def test_training_runs_as_a_task(client_for, support, dataset):
    response = client_for(support).post(f"{API}/models/train/", train_body(activate=True), format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "SUCCESSFUL"  # the tests' backend runs tasks at once
    model = DropoutModel.objects.get(pk=body["model"])
    assert model.is_active and model.trained_by == support


def test_training_status_from_the_queue(client_for, support, dataset, settings, monkeypatch):
    from django.core.management import call_command
    from django_tasks_db.management.commands import db_worker

    # The worker closes "old" connections between tasks; inside a test's transaction that
    # would be this test's connection.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client = client_for(support)
    body = client.post(f"{API}/models/train/", train_body(), format="json").json()
    assert body["status"] == "READY" and body["model"] is None
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    done = client.get(f"{API}/models/train/{body['id']}/").json()
    assert done["status"] == "SUCCESSFUL" and DropoutModel.objects.filter(pk=done["model"]).exists()
    failing = client.post(f"{API}/models/train/", train_body(cutoff_day=230), format="json").json()
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    failed = client.get(f"{API}/models/train/{failing['id']}/").json()
    assert failed["status"] == "FAILED" and "Too few examples" in failed["error"]
    assert client.get(f"{API}/models/train/0000/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (train_body(train_presentations=["2099B"]), "train_presentations"),
        (train_body(validation_presentations=["ZZZ-2014B"]), "validation_presentations"),
        (train_body(cutoff_day=300), "cutoff_day"),
        (train_body(cutoff_day=-3), "cutoff_day"),
        (train_body(target="graduated"), "target"),
        (train_body(colour="red"), "colour"),
        (train_body(train_presentations=[]), "train_presentations"),
    ],
)
def test_training_refuses_bad_bodies(client_for, support, dataset, body, field):
    response = client_for(support).post(f"{API}/models/train/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not DropoutModel.objects.exists()


def test_training_needs_the_permission(client_for, teacher, anon_client, dataset):
    response = client_for(teacher).post(f"{API}/models/train/", train_body(), format="json")
    assert response.status_code == 403 and "dropout.add_dropoutmodel" in response.json()["detail"]
    assert anon_client.post(f"{API}/models/train/", train_body(), format="json").status_code == 401
    assert client_for(teacher).get(f"{API}/models/train/abc/").status_code == 403


def event(enrollment, site, **more):
    return {
        "code_module": enrollment.presentation.course.code,
        "code_presentation": enrollment.presentation.code,
        "id_student": enrollment.student.external_id,
        "id_site": site.external_id,
        "date": 12,
        "sum_click": 3,
        **more,
    }


def test_events_go_in(client_for, support, my_enrollment):
    site = my_enrollment.presentation.activities.first()
    rows = [event(my_enrollment, site, date=day) for day in range(20)]
    response = client_for(support).post(f"{API}/events/", rows, format="json")
    assert response.status_code == 201 and response.json() == {"received": 20, "inserted": 20}
    assert LearningEvent.objects.filter(enrollment=my_enrollment).count() == 20
    csv = "code_module,code_presentation,id_student,id_site,date,sum_click\n" + "".join(
        f"{r['code_module']},{r['code_presentation']},{r['id_student']},{r['id_site']},{r['date']},4\n"
        for r in rows[:3]
    )
    response = client_for(support).post(f"{API}/events/", csv, content_type="text/csv")
    assert response.status_code == 201 and response.json()["inserted"] == 3


def test_bad_event_rows_are_named_and_nothing_is_stored(client_for, support, my_enrollment):
    site = my_enrollment.presentation.activities.first()
    rows = [
        event(my_enrollment, site),
        event(my_enrollment, site, sum_click=0),
        event(my_enrollment, site, id_student="nobody"),
        event(my_enrollment, site, id_site="nowhere"),
        event(my_enrollment, site, code_presentation="2099B"),
    ]
    response = client_for(support).post(f"{API}/events/", rows, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"1"}  # field problems first
    response = client_for(support).post(f"{API}/events/", rows[:1] + rows[2:], format="json")
    fields = response.json()["fields"]
    assert set(fields) == {"1", "2", "3"}
    assert "id_student" in fields["1"] and "id_site" in fields["2"] and "code_presentation" in fields["3"]
    assert not LearningEvent.objects.exists()


def test_events_unhappy_paths(client_for, support, teacher, anon_client, my_enrollment, their_enrollment):
    site = my_enrollment.presentation.activities.first()
    client = client_for(support)
    assert client.post(f"{API}/events/", "{}", content_type="application/xml").status_code == 415
    assert client.post(f"{API}/events/", "[not json", content_type="application/json").status_code == 400
    assert client.post(f"{API}/events/", [event(my_enrollment, site)] * 10_001, format="json").status_code == 413
    assert client.get(f"{API}/events/").status_code == 405
    assert anon_client.post(f"{API}/events/", [], format="json").status_code == 401
    response = client_for(teacher).post(f"{API}/events/", [event(my_enrollment, site)], format="json")
    assert response.status_code == 403 and "dropout.add_learningevent" in response.json()["detail"]
    # With the permission but not support staff: only the students of the teacher's cohorts.
    teacher.user_permissions.add(Permission.objects.get(codename="add_learningevent"))
    client = client_for(teacher)
    assert client.post(f"{API}/events/", [event(my_enrollment, site)], format="json").status_code == 201
    other_site = their_enrollment.presentation.activities.first()
    response = client.post(f"{API}/events/", [event(their_enrollment, other_site)], format="json")
    assert response.status_code == 400 and "among those you may write" in str(response.json()["fields"]["0"])
