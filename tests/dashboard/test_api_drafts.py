"""drafts/: the student writes and submits, staff review; illegal moves are 409s naming the
allowed ones."""

import pytest

from dashboard import services
from dashboard.models import Draft, DraftVersion

pytestmark = pytest.mark.django_db
URL = "/api/v1/dashboard/drafts/"


@pytest.fixture
def draft(student, pupil):
    return services.create_draft(actor=pupil, student=student, title="On engines", body="The analytical engine")


def move(client, draft, step, **body):
    return client.post(f"{URL}{draft.pk}/{step}/", body, format="json")


def in_review(draft, pupil, teacher):
    services.submit_draft(actor=pupil, draft=draft)
    return services.start_review(actor=teacher, draft=draft)


# --- the student's side -------------------------------------------------------------------------


def test_the_pupil_writes_edits_and_submits(client_for, pupil, student):
    client = client_for(pupil)

    created = client.post(URL, {"title": "Notes", "body": "one two"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert (created.json()["student"], created.json()["status"]) == (str(student.uuid), "draft")
    assert created.json()["allowed_transitions"] == ["submitted"]

    edited = client.patch(f"{URL}{pk}/", {"body": "one two three"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["title"] == "Notes"

    submitted = client.post(f"{URL}{pk}/submit/")
    assert submitted.status_code == 200
    body = submitted.json()
    assert body["status"] == "submitted"
    assert [(v["number"], v["word_count"]) for v in body["versions"]] == [(1, 3)]
    assert body["versions"][0]["submitted_at"] == body["submitted_at"]


def test_users_without_a_student_record_cannot_create(client_for, teacher, dashboard_admin):
    for user in (teacher, dashboard_admin):
        response = client_for(user).post(URL, {"title": "Mine"}, format="json")
        assert response.status_code == 403
        assert "student record" in response.json()["detail"]
    assert not Draft.objects.exists()


@pytest.mark.parametrize(("body", "field"), [({"title": ""}, "title"), ({}, "title"), ({"title": "T", "x": 1}, "x")])
def test_bad_drafts_are_400(client_for, pupil, student, body, field):
    response = client_for(pupil).post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_editing_a_submitted_draft_is_409_naming_what_is_allowed(client_for, pupil, draft):
    services.submit_draft(actor=pupil, draft=draft)

    response = client_for(pupil).patch(f"{URL}{draft.pk}/", {"body": "changed"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "allowed: in_review" in response.json()["detail"]
    assert Draft.objects.get(pk=draft.pk).body == "The analytical engine"


def test_only_the_owner_edits_and_submits(client_for, teacher, draft):
    client = client_for(teacher)

    assert client.patch(f"{URL}{draft.pk}/", {"title": "Mine now"}, format="json").status_code == 403
    assert move(client, draft, "submit").status_code == 403
    assert Draft.objects.get(pk=draft.pk).status == "draft"


# --- the staff's side ---------------------------------------------------------------------------


def test_staff_review_return_and_accept_a_resubmission(client_for, teacher, co_teacher, pupil, draft):
    services.submit_draft(actor=pupil, draft=draft)

    started = move(client_for(teacher), draft, "start-review")
    returned = move(client_for(co_teacher), draft, "return", feedback="Cite your sources.")
    resubmitted = move(client_for(pupil), draft, "submit")
    move(client_for(co_teacher), draft, "start-review")
    accepted = move(client_for(teacher), draft, "accept", feedback="Well done.")

    assert (started.status_code, started.json()["status"], started.json()["reviewer"]) == (200, "in_review", "teacher")
    assert returned.json()["status"] == "returned"
    assert returned.json()["feedback"] == "Cite your sources."
    assert [v["number"] for v in resubmitted.json()["versions"]] == [1, 2]
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["feedback"]) == ("accepted", "Well done.")
    assert accepted.json()["allowed_transitions"] == []


@pytest.mark.parametrize("feedback", ["", "   "])
def test_returning_needs_feedback(client_for, teacher, pupil, draft, feedback):
    in_review(draft, pupil, teacher)

    response = move(client_for(teacher), draft, "return", feedback=feedback)
    missing = move(client_for(teacher), draft, "return")

    assert response.status_code == 400 and "feedback" in response.json()["fields"]
    assert missing.status_code == 400 and "feedback" in missing.json()["fields"]
    assert Draft.objects.get(pk=draft.pk).status == "in_review"


@pytest.mark.parametrize(
    ("step", "allowed"),
    [("start-review", "submitted"), ("accept", "submitted"), ("return", "submitted")],
)
def test_illegal_transitions_are_409_naming_the_allowed_ones(client_for, teacher, draft, step, allowed):
    response = move(client_for(teacher), draft, step, feedback="Why?")

    assert response.status_code == 409
    assert f"allowed: {allowed}" in response.json()["detail"]
    assert Draft.objects.get(pk=draft.pk).status == "draft"


def test_an_accepted_draft_is_final(client_for, teacher, pupil, draft):
    in_review(draft, pupil, teacher)
    services.accept_draft(actor=teacher, draft=draft)

    resubmit = move(client_for(pupil), draft, "submit")

    assert resubmit.status_code == 409
    assert "none: it is final" in resubmit.json()["detail"]
    assert DraftVersion.objects.filter(draft=draft).count() == 1


def test_the_pupil_cannot_review_their_own_work(client_for, pupil, draft):
    services.submit_draft(actor=pupil, draft=draft)

    assert move(client_for(pupil), draft, "start-review").status_code == 403


# --- scoping ------------------------------------------------------------------------------------


def test_scoping_of_lists_and_objects(client_for, teacher, co_teacher, other_teacher, pupil, dashboard_admin, draft):
    for who in (teacher, co_teacher, pupil, dashboard_admin):
        assert [row["id"] for row in client_for(who).get(URL).json()["results"]] == [draft.pk]
        assert client_for(who).get(f"{URL}{draft.pk}/").status_code == 200
    stranger = client_for(other_teacher)
    assert stranger.get(URL).json()["results"] == []
    assert stranger.get(f"{URL}{draft.pk}/").status_code == 404
    assert move(stranger, draft, "start-review").status_code == 404


def test_anonymous_is_401(anon_client, draft):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.get(f"{URL}{draft.pk}/").status_code == 401
    assert move(anon_client, draft, "submit").status_code == 401


def test_filters_and_the_lists_queries(client_for, teacher, pupil, student, django_assert_max_num_queries):
    for i in range(8):
        made = services.create_draft(actor=pupil, student=student, title=f"Essay {i}")
        if i % 2:
            services.submit_draft(actor=pupil, draft=made)
    client = client_for(teacher)
    client.get(URL)

    with django_assert_max_num_queries(2):  # count, page (with student and reviewer)
        submitted = client.get(URL, {"status": "submitted", "student": str(student.uuid)}).json()

    assert submitted["count"] == 4
    assert {row["status"] for row in submitted["results"]} == {"submitted"}
    assert "versions" not in submitted["results"][0]
    assert client.get(URL, {"status": "lost"}).status_code == 400


def test_methods_that_do_not_exist_are_405(client_for, pupil, draft):
    client = client_for(pupil)

    assert client.delete(f"{URL}{draft.pk}/").status_code == 405
    assert client.put(f"{URL}{draft.pk}/", {"title": "T"}, format="json").status_code == 405
    assert client.get(f"{URL}{draft.pk}/submit/").status_code == 405
