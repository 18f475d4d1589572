"""The onboarding LMS: revisions, assignments, the student's path (prerequisites a 409 naming
them), progress that follows from events (replayed, and against a reference in Python), bulk
events, and the analytics faculty read."""

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from frames import lms
from frames.models import (
    Module,
    ModuleAnalyticsEvent,
    ModuleAssignment,
    ModuleFeedback,
    ModuleProgress,
    ModuleSection,
    Student,
)
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db
API = "/api/v1/frames"


def make_module(university, key="safety-101", sections=3, prerequisites=(), publish=True, **fields) -> Module:
    module = Module.objects.create(
        key=key, title=key.title(), university=university, prerequisites=list(prerequisites), **fields
    )
    ModuleSection.objects.bulk_create(
        ModuleSection(module=module, order=index, title=f"Part {index}", duration_minutes=5)
        for index in range(1, sections + 1)
    )
    if publish:
        Module.objects.filter(pk=module.pk).update(status="published", published_at=datetime.now(UTC))
        module.refresh_from_db()
    return module


@pytest.fixture
def module(university):
    return make_module(university)


@pytest.fixture
def assigned(module, pupil):
    ModuleAssignment.objects.create(module=module, student=Student.objects.get(user=pupil))
    return module


@pytest.fixture
def as_(client_for, faculty, other_faculty, researcher, pupil):
    users = {"a": faculty, "b": other_faculty, "researcher": researcher, "student": pupil}
    return lambda who: client_for(users[who])


def post(client, path, body=None):
    return client.post(f"{API}/{path}", body, format="json")


# --- modules and revisions -----------------------------------------------------------------------


def test_faculty_write_a_draft_publish_it_and_change_it_only_through_a_revision(as_, university):
    created = post(as_("a"), "modules/", {"key": "cubesat-101", "title": "CubeSat basics", "university": university.pk})
    assert created.status_code == 201 and created.json()["status"] == "draft"
    pk = created.json()["id"]
    assert post(as_("a"), f"modules/{pk}/publish/").status_code == 409  # no section yet
    section = post(as_("a"), "sections/", {"module": pk, "order": 1, "title": "What a CubeSat is"})
    assert section.status_code == 201

    published = post(as_("a"), f"modules/{pk}/publish/")
    assert published.status_code == 200 and published.json()["status"] == "published"
    edit = as_("a").patch(f"{API}/modules/{pk}/", {"title": "Changed"}, format="json")
    assert edit.status_code == 409 and "new revision" in edit.json()["detail"]
    assert post(as_("a"), "sections/", {"module": pk, "order": 2, "title": "More"}).status_code == 409

    revision = post(as_("a"), f"modules/{pk}/revise/")
    assert revision.status_code == 201
    draft = revision.json()
    assert (draft["key"], draft["revision"], draft["status"]) == ("cubesat-101", 2, "draft")
    assert [s["title"] for s in draft["sections"]] == ["What a CubeSat is"]
    again = post(as_("a"), f"modules/{pk}/revise/")
    assert again.status_code == 409 and f"id {draft['id']}" in again.json()["detail"]
    assert as_("a").patch(f"{API}/modules/{draft['id']}/", {"title": "Better"}, format="json").status_code == 200
    post(as_("a"), f"modules/{draft['id']}/publish/")
    assert dict(Module.objects.values_list("revision", "status")) == {1: "archived", 2: "published"}
    assert ActionLog.objects.filter(object_type="frames.module", verb="publish").count() == 2


def test_another_universitys_module_is_a_404_and_consortium_modules_are_the_researchers(as_, module, university):
    assert as_("b").get(f"{API}/modules/{module.pk}/").status_code == 404
    assert as_("a").get(f"{API}/modules/{module.pk}/").status_code == 200
    assert as_("researcher").get(f"{API}/modules/{module.pk}/").status_code == 200
    body = {"key": "proves-onboarding", "title": "PROVES", "university": None}
    assert post(as_("a"), "modules/", body).status_code == 403
    assert post(as_("researcher"), "modules/", body).status_code == 201
    assert as_("b").get(f"{API}/modules/", {"key": "proves-onboarding"}).json()["count"] == 1  # visible to all


def test_prerequisites_must_be_module_keys(as_, module, university):
    body = {"key": "next", "title": "Next", "university": university.pk, "prerequisites": ["safety-101", "nope"]}
    response = post(as_("a"), "modules/", body)
    assert response.status_code == 400 and "nope" in response.json()["fields"]["prerequisites"][0]


# --- assignments and the student's path ----------------------------------------------------------


def test_faculty_assign_their_students_a_published_module(as_, module, pupil, university, other_university):
    student = Student.objects.get(user=pupil)
    body = {"students": [student.pk], "due_at": "2026-12-01T00:00:00Z"}
    assert post(as_("a"), f"modules/{module.pk}/assign/", body).json() == {"created": 1, "updated": 0}
    assert post(as_("a"), f"modules/{module.pk}/assign/", body).json() == {"created": 0, "updated": 1}
    theirs = Student.objects.create(university=other_university, name="Theirs")
    refused = post(as_("a"), f"modules/{module.pk}/assign/", {"students": [theirs.pk]})
    assert refused.status_code == 400 and "students" in refused.json()["fields"]
    draft = make_module(university, key="draft", publish=False)
    assert post(as_("a"), f"modules/{draft.pk}/assign/", {"students": [student.pk]}).status_code == 409
    assert post(as_("student"), f"modules/{module.pk}/assign/", {"students": [student.pk]}).status_code == 403

    mine = as_("student").get(f"{API}/assignments/").json()["results"]
    assert [(a["module_key"], a["due_at"]) for a in mine] == [("safety-101", "2026-12-01T00:00:00Z")]
    assert as_("b").get(f"{API}/assignments/").json()["results"] == []


def test_a_student_starts_views_completes_and_rates_an_assigned_module(as_, assigned):
    client = as_("student")
    sections = list(assigned.sections.order_by("order"))
    assert post(client, f"modules/{assigned.pk}/view/", {"section": sections[0].pk}).status_code == 409  # not started

    started = post(client, f"modules/{assigned.pk}/start/")
    assert started.status_code == 200 and started.json()["status"] == "in_progress" and started.json()["percent"] == 0
    viewed = post(client, f"modules/{assigned.pk}/view/", {"section": sections[0].pk, "duration_seconds": 90})
    assert viewed.json()["percent"] == 33 and viewed.json()["current_section"] == sections[0].pk
    early = post(client, f"modules/{assigned.pk}/complete/")
    assert early.status_code == 409 and "2. Part 2" in early.json()["detail"]
    for section in sections[1:]:
        post(client, f"modules/{assigned.pk}/view/", {"section": section.pk, "duration_seconds": 60})
    done = post(client, f"modules/{assigned.pk}/complete/")
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["percent"] == 100
    assert done.json()["total_seconds"] == 210

    assert post(client, f"modules/{assigned.pk}/feedback/", {"rating": 6}).status_code == 400
    assert post(client, f"modules/{assigned.pk}/feedback/", {"rating": 4, "comment": "Clear"}).status_code == 200
    assert post(client, f"modules/{assigned.pk}/feedback/", {"rating": 5}).status_code == 200
    assert ModuleFeedback.objects.get().rating == 5
    assert as_("student").get(f"{API}/feedback/").json()["count"] == 1
    assert as_("b").get(f"{API}/feedback/").json()["count"] == 0


def test_starting_before_the_prerequisites_are_complete_is_a_409_naming_them(as_, assigned, pupil, university):
    student = Student.objects.get(user=pupil)
    second = make_module(university, key="rf-basics", sections=1, prerequisites=["safety-101"])
    ModuleAssignment.objects.create(module=second, student=student)

    refused = post(as_("student"), f"modules/{second.pk}/start/")
    assert refused.status_code == 409 and "safety-101" in refused.json()["detail"]
    assert not ModuleAnalyticsEvent.objects.filter(module=second).exists()

    lms.start(student=student, module=assigned)
    for section in assigned.sections.all():
        lms.view_section(student=student, module=assigned, section=section, seconds=10)
    lms.complete(student=student, module=assigned)
    assert post(as_("student"), f"modules/{second.pk}/start/").status_code == 200


def test_a_student_sees_only_the_published_modules_assigned_to_them(as_, assigned, university):
    other = make_module(university, key="other")
    assert {m["id"] for m in as_("student").get(f"{API}/modules/").json()["results"]} == {assigned.pk}
    assert post(as_("student"), f"modules/{other.pk}/start/").status_code == 404
    assert as_("student").get(f"{API}/events/").status_code == 403
    assert post(as_("a"), f"modules/{assigned.pk}/start/").status_code == 403  # faculty are not students


# --- progress follows from events ----------------------------------------------------------------


def reference_progress(events, section_ids):
    """The progress rule in plain Python, event by event (the SQL's reference)."""
    events = sorted(events, key=lambda e: (e["at"], e["index"]))
    viewed = []
    for event in events:
        if event["event_type"] == "section_view" and event["section"] not in viewed:
            viewed.append(event["section"])
    completes = [e["at"] for e in events if e["event_type"] == "complete"]
    views = [e for e in events if e["event_type"] == "section_view"]
    return {
        "status": "completed" if completes else "in_progress",
        "percent": 100 if completes else (100 * len(viewed)) // len(section_ids),
        "current_section_id": views[-1]["section"] if views else None,
        "started_at": events[0]["at"],
        "completed_at": min(completes) if completes else None,
        "last_accessed_at": events[-1]["at"],
        "total_seconds": sum(e["duration_seconds"] for e in events),
        "completed_sections": viewed,
    }


FIELDS = list(reference_progress([{"at": 0, "index": 0, "event_type": "start", "duration_seconds": 0}], [1]))


def test_progress_follows_from_events_however_they_arrive(as_, module, university):
    rng = random.Random(7)  # noqa: S311 (test data)
    students = Student.objects.bulk_create(Student(university=university, name=f"S{i}") for i in range(12))
    ModuleAssignment.objects.bulk_create(ModuleAssignment(module=module, student=s) for s in students)
    sections = list(module.sections.values_list("pk", flat=True))
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    rows, by_student = [], {}
    for student in students:
        moment = start + timedelta(minutes=rng.randrange(600))
        for _ in range(rng.randrange(1, 9)):
            kind = rng.choice(["start", "section_view", "section_view", "pause", "resume", "complete"])
            row = {"student": student.pk, "module": module.pk, "event_type": kind,
                   "duration_seconds": rng.randrange(200), "at": moment.isoformat()}  # fmt: skip
            if kind == "section_view":
                row["section"] = rng.choice(sections)
            rows.append(row)
            by_student.setdefault(student.pk, []).append({**row, "at": moment, "index": len(rows)})
            moment += timedelta(seconds=rng.choice([0, 30, 300]))  # ties too
    rng.shuffle(rows)  # out of order, in two batches
    for batch in (rows[: len(rows) // 2], rows[len(rows) // 2 :]):
        response = as_("a").post(f"{API}/events/", orjson.dumps(batch), content_type="application/json")
        assert response.status_code == 201, response.json()

    def stored():
        return {
            p["student_id"]: {name: p[name] for name in FIELDS}
            for p in ModuleProgress.objects.filter(module=module).values("student_id", *FIELDS)
        }

    first = stored()
    for student_id, events in by_student.items():
        expected = reference_progress(events, sections)
        if expected["current_section_id"] is not None:  # ties in time: the SQL breaks them by id, as inserted
            assert expected["current_section_id"] in first[student_id]["completed_sections"]
            expected["current_section_id"] = first[student_id]["current_section_id"]
        assert first[student_id] == expected, student_id

    ModuleProgress.objects.all().delete()  # replayed from the events alone: the same rows
    lms.refresh_progress((s.pk, module.pk) for s in students)
    assert stored() == first


# --- events in bulk ------------------------------------------------------------------------------


def test_a_bad_row_names_itself_and_nothing_is_written(as_, module, university, other_university):
    section = module.sections.first()
    other = make_module(university, key="other", sections=1)
    theirs = Student.objects.create(university=other_university, name="Theirs")
    mine = Student.objects.create(university=university, name="Mine")
    unassigned = Student.objects.create(university=university, name="Unassigned")
    ModuleAssignment.objects.create(module=module, student=mine)
    draft = make_module(university, key="draft", publish=False)
    good = {"student": mine.pk, "module": module.pk, "event_type": "start", "at": "2026-11-20T10:00:00Z"}
    batch = [
        good,
        {**good, "student": theirs.pk},
        {**good, "event_type": "section_view", "section": other.sections.first().pk},
        {**good, "event_type": "section_view"},
        {**good, "at": "2026-11-20T10:00:00"},
        {**good, "event_type": "section_view", "section": section.pk},
        {**good, "student": unassigned.pk},
        {**good, "module": draft.pk},
    ]
    response = as_("a").post(f"{API}/events/", orjson.dumps(batch), content_type="application/json")

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"3", "4"}  # the form first: the database is asked only of a well-formed batch
    assert "section" in fields["3"] and "at" in fields["4"]
    kept = [batch[i] for i in (0, 1, 2, 6, 7)]
    response = as_("a").post(f"{API}/events/", orjson.dumps(kept), content_type="application/json")
    fields = response.json()["fields"]
    assert response.status_code == 400 and set(fields) == {"1", "2", "3", "4"}
    assert "student" in fields["1"] and "section" in fields["2"]
    assert "not assigned" in fields["3"]["module"][0] and "published" in fields["4"]["module"][0]
    assert not ModuleAnalyticsEvent.objects.exists() and not ModuleProgress.objects.exists()


def test_event_batches_refuse_what_they_cannot_take(as_, module, university, monkeypatch):
    mine = Student.objects.create(university=university, name="Mine")
    ModuleAssignment.objects.create(module=module, student=mine)
    row = {"student": mine.pk, "module": module.pk, "event_type": "start", "at": "2026-11-20T10:00:00Z"}
    monkeypatch.setattr(lms, "MAX_ROWS", 2)
    too_many = as_("a").post(f"{API}/events/", orjson.dumps([row] * 3), content_type="application/json")
    assert too_many.status_code == 413
    assert as_("a").post(f"{API}/events/", "a,b", content_type="text/csv").status_code == 415
    assert as_("a").post(f"{API}/events/", b"[", content_type="application/json").status_code == 400
    assert (
        as_("student").post(f"{API}/events/", orjson.dumps([row]), content_type="application/json").status_code == 403
    )
    ok = as_("researcher").post(f"{API}/events/", orjson.dumps([row] * 2), content_type="application/json")
    assert ok.status_code == 201 and ok.json() == {"received": 2, "inserted": 2, "progress_refreshed": 1}
    assert ActionLog.objects.filter(object_type="frames.moduleanalyticsevent", verb="import").exists()


def test_events_are_listed_newest_first_by_cursor(as_, module, university):
    mine = Student.objects.create(university=university, name="Mine")
    base = datetime(2026, 11, 20, tzinfo=UTC)
    ModuleAnalyticsEvent.objects.bulk_create(
        ModuleAnalyticsEvent(student=mine, module=module, event_type="pause", at=base + timedelta(minutes=i))
        for i in range(5)
    )
    page = as_("a").get(f"{API}/events/", {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["results"][0]["at"] == "2026-11-20T00:04:00Z"
    rest = as_("a").get(page["next"]).json()
    assert [e["at"] for e in rest["results"]] == ["2026-11-20T00:01:00Z", "2026-11-20T00:00:00Z"]
    assert rest["next"] is None
    assert as_("b").get(f"{API}/events/").json()["results"] == []


# --- analytics -----------------------------------------------------------------------------------


def test_the_funnel_of_every_module_takes_the_same_queries_however_many(as_, university, pupil):
    student = Student.objects.get(user=pupil)
    client = as_("a")
    for index in range(2):
        ModuleAssignment.objects.create(module=make_module(university, key=f"m{index}"), student=student)
    client.get(f"{API}/modules/funnel/")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{API}/modules/funnel/").status_code == 200
    for index in range(2, 8):
        ModuleAssignment.objects.create(module=make_module(university, key=f"m{index}"), student=student)
    with CaptureQueriesContext(connection) as many:
        rows = client.get(f"{API}/modules/funnel/").json()["results"]
    assert len(rows) == 8 and len(many) == len(few) <= 5
    assert {(r["assigned"], r["started"], r["completed"]) for r in rows} == {(1, 0, 0)}


def test_module_analytics_median_time_drop_off_and_feedback(as_, module, university):
    sections = list(module.sections.order_by("order"))
    students = Student.objects.bulk_create(Student(university=university, name=f"L{i}") for i in range(4))
    ModuleAssignment.objects.bulk_create(ModuleAssignment(module=module, student=s) for s in students)
    durations = {0: [30, 60, 90, 120], 1: [10, 20]}
    for student in students:
        lms.start(student=student, module=module)
    for order, seconds in durations.items():
        for student, duration in zip(students, seconds, strict=False):
            lms.view_section(student=student, module=module, section=sections[order], seconds=duration)
    lms.view_section(student=students[0], module=module, section=sections[2], seconds=5)
    lms.complete(student=students[0], module=module)
    for student, rating in zip(students, (5, 4, 2), strict=False):
        lms.give_feedback(student=student, module=module, rating=rating, comment="")

    data = as_("a").get(f"{API}/modules/{module.pk}/analytics/").json()
    funnel = data["funnel"]
    assert (funnel["assigned"], funnel["started"], funnel["completed"]) == (4, 4, 1)
    medians = [s["median_seconds"] for s in data["sections"]]
    assert medians == [statistics.median(durations[0]), statistics.median(durations[1]), 5]
    # students 1: stopped at part 2; 2 and 3: at part 1 (the drop-off).
    assert [s["stopped_here"] for s in data["sections"]] == [2, 1, 0]
    assert data["drop_off"]["order"] == 1
    assert data["feedback_count"] == 3 and data["average_rating"] == pytest.approx(11 / 3)
    assert as_("b").get(f"{API}/modules/{module.pk}/analytics/").status_code == 404


def test_overdue_required_assignments_per_university(as_, module, university, other_university, pupil):
    past = datetime(2026, 1, 1, tzinfo=UTC)
    late = Student.objects.create(university=university, name="Late")
    done = Student.objects.get(user=pupil)
    theirs = Student.objects.create(university=other_university, name="Theirs")
    for student in (late, done, theirs):
        ModuleAssignment.objects.create(module=module, student=student, due_at=past)
    ModuleAssignment.objects.create(module=make_module(university, key="optional"), student=late, required=False)
    lms.start(student=done, module=module)
    for section in module.sections.all():
        lms.view_section(student=done, module=module, section=section, seconds=1)
    lms.complete(student=done, module=module)

    rows = as_("researcher").get(f"{API}/assignments/overdue/").json()
    assert {(r["name"], r["overdue"], r["students"]) for r in rows} == {
        (university.name, 1, 1),
        (other_university.name, 1, 1),
    }
    assert [r["university"] for r in as_("a").get(f"{API}/assignments/overdue/").json()] == [university.pk]
    assert as_("student").get(f"{API}/assignments/overdue/").status_code == 403


# --- what a review found ---------------------------------------------------------------------------


def test_faculty_cannot_post_events_into_another_universitys_module(as_, university, other_university):
    theirs_module = make_module(university, key="private")
    theirs = Student.objects.create(university=other_university, name="B's student")
    ModuleAssignment.objects.create(module=theirs_module, student=theirs)
    row = {"student": theirs.pk, "module": theirs_module.pk, "event_type": "start", "at": "2026-11-20T10:00:00Z"}

    response = as_("b").post(f"{API}/events/", orjson.dumps([row]), content_type="application/json")

    assert response.status_code == 400 and "module" in response.json()["fields"]["0"]
    assert not ModuleAnalyticsEvent.objects.exists()


def test_analytics_count_only_the_callers_learners(as_, researcher, university, other_university):
    consortium = make_module(None, key="proves")
    ours = Student.objects.create(university=university, name="Ours")
    theirs = Student.objects.create(university=other_university, name="Theirs")
    for student in (ours, theirs):
        ModuleAssignment.objects.create(module=consortium, student=student)
    lms.start(student=theirs, module=consortium)

    a = as_("a").get(f"{API}/modules/funnel/", {"key": "proves"}).json()["results"][0]
    b = as_("b").get(f"{API}/modules/{consortium.pk}/analytics/").json()["funnel"]
    everyone = as_("researcher").get(f"{API}/modules/{consortium.pk}/analytics/").json()["funnel"]
    assert (a["assigned"], a["started"]) == (1, 0)
    assert (b["assigned"], b["started"]) == (1, 1)
    assert (everyone["assigned"], everyone["started"]) == (2, 1)


def test_a_new_revision_moves_the_unstarted_and_lets_the_started_finish(as_, module, university, researcher):
    started = Student.objects.create(university=university, name="Started")
    waiting = Student.objects.create(university=university, name="Waiting")
    for student in (started, waiting):
        ModuleAssignment.objects.create(module=module, student=student)
    lms.start(student=started, module=module)

    draft = lms.new_revision(actor=researcher, module=module)
    lms.publish(actor=researcher, module=draft)

    assert ModuleAssignment.objects.get(student=waiting).module == draft
    assert ModuleAssignment.objects.get(student=started).module == module  # archived, theirs to finish
    for section in module.sections.all():
        lms.view_section(student=started, module=module, section=section, seconds=5)
    assert lms.complete(student=started, module=module).status == "completed"
    with pytest.raises(lms.Conflict):
        lms.start(student=waiting, module=module)


def test_a_cycle_of_prerequisites_is_a_400_naming_it(as_, university):
    make_module(university, key="first", publish=False)
    second = post(as_("a"), "modules/", {"key": "second", "title": "2", "university": university.pk,
                                          "prerequisites": ["first"]})  # fmt: skip
    assert second.status_code == 201
    first = Module.objects.get(key="first")
    response = as_("a").patch(f"{API}/modules/{first.pk}/", {"prerequisites": ["second"]}, format="json")
    assert response.status_code == 400 and "cycle" in response.json()["fields"]["prerequisites"][0]


def test_assigning_a_student_twice_in_one_request_assigns_once(as_, module, pupil):
    student = Student.objects.get(user=pupil)
    response = post(as_("a"), f"modules/{module.pk}/assign/", {"students": [student.pk, student.pk]})
    assert response.status_code == 200 and response.json() == {"created": 1, "updated": 0}


def test_feedback_is_audited(as_, assigned):
    post(as_("student"), f"modules/{assigned.pk}/feedback/", {"rating": 4})
    assert ActionLog.objects.filter(object_type="frames.modulefeedback", verb="create").exists()


def test_lms_actions_refuse_unknown_parameters(as_, module):
    assert as_("a").get(f"{API}/modules/{module.pk}/analytics/", {"foo": 1}).status_code == 400
    assert as_("a").get(f"{API}/modules/{module.pk}/progress/", {"student": 1}).status_code == 400
    assert as_("a").get(f"{API}/assignments/overdue/", {"foo": 1}).status_code == 400


def _concurrently(*calls) -> list:
    """Run the calls at once, each in its own thread and connection; their results or errors."""
    import threading

    from django.db import connections

    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_one_learner_leave_the_progress_of_all_their_events(university, faculty, monkeypatch):
    module = make_module(university, key="race", sections=2)
    students = Student.objects.bulk_create(Student(university=university, name=f"R{i}") for i in range(30))
    ModuleAssignment.objects.bulk_create(ModuleAssignment(module=module, student=s) for s in students)
    first, second = module.sections.order_by("order")
    refresh = lms.refresh_progress

    def slow_refresh(pairs):  # both batches have copied their events before either recomputes
        time.sleep(0.3)
        return refresh(pairs)

    monkeypatch.setattr(lms, "refresh_progress", slow_refresh)

    def batch(section, minute):
        rows = [
            {"student": s.pk, "module": module.pk, "section": section.pk, "event_type": "section_view",
             "duration_seconds": 10, "at": f"2026-11-20T10:{minute:02d}:00+00:00"}
            for s in students
        ]  # fmt: skip
        return lms.ingest_events(lms.parse_events(orjson.dumps(rows)), actor=faculty)

    results = _concurrently(lambda: batch(first, 1), lambda: batch(second, 2))

    assert all(isinstance(r, lms.EventBatchResult) for r in results), results
    stored = {p.student_id: (p.percent, p.total_seconds) for p in ModuleProgress.objects.filter(module=module)}
    assert set(stored.values()) == {(100, 20)}  # both sections' views counted: neither batch's lost


@pytest.mark.django_db(transaction=True)
def test_asking_twice_at_once_for_a_new_revision_makes_one(university, faculty):
    module = make_module(university, key="twice")

    results = _concurrently(
        lambda: lms.new_revision(actor=faculty, module=module), lambda: lms.new_revision(actor=faculty, module=module)
    )

    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Module"], results
    assert Module.objects.filter(key="twice").count() == 2


def test_publishing_after_an_archive_moves_the_unstarted_once_per_student(university, researcher):
    first = make_module(university, key="again")
    learner, starter = (Student.objects.create(university=university, name=n) for n in ("Learner", "Starter"))
    for student in (learner, starter):
        ModuleAssignment.objects.create(module=first, student=student)
    lms.start(student=starter, module=first)
    second = lms.new_revision(actor=researcher, module=first)
    lms.publish(actor=researcher, module=second)  # the learner's assignment moves to revision 2
    ModuleAssignment.objects.create(module=first, student=learner)  # an old one again (as the admin could)
    lms.archive(actor=researcher, module=second)
    third = lms.new_revision(actor=researcher, module=second)

    lms.publish(actor=researcher, module=third)

    assert list(ModuleAssignment.objects.filter(student=learner).values_list("module__revision", flat=True)) == [3]
    assert ModuleAssignment.objects.get(student=starter).module == first  # started: theirs to finish
    entry = ActionLog.objects.filter(object_type="frames.module", verb="publish").latest("at")
    assert (entry.changes["moved"], entry.changes["dropped"]) == (1, 1)


def test_events_for_an_archived_revision_come_only_from_those_who_started_it(as_, university, researcher):
    old = make_module(university, key="old")
    started, waiting = (Student.objects.create(university=university, name=n) for n in ("Started", "Waiting"))
    for student in (started, waiting):
        ModuleAssignment.objects.create(module=old, student=student)
    lms.start(student=started, module=old)
    lms.archive(actor=researcher, module=old)
    rows = [
        {"student": s.pk, "module": old.pk, "event_type": "pause", "at": "2026-11-20T10:00:00Z"}
        for s in (started, waiting)
    ]

    response = as_("a").post(f"{API}/events/", orjson.dumps(rows), content_type="application/json")

    assert response.status_code == 400 and set(response.json()["fields"]) == {"1"}
    assert "never started" in response.json()["fields"]["1"]["module"][0]


def _slow_archiving(monkeypatch, seconds=0.5):
    """Archiving waits ``seconds`` before its commit (in its audit entry, after the status
    changed): a learner's write then comes while it is in flight."""
    record = lms.audit.record

    def slow_record(verb, **kwargs):
        if verb == "archive":
            time.sleep(seconds)
        return record(verb, **kwargs)

    monkeypatch.setattr(lms.audit, "record", slow_record)


def _after(seconds, call):
    def later():
        time.sleep(seconds)
        return call()

    return later


def _first_event_batch(student, module, faculty):
    rows = [{"student": student.pk, "module": module.pk, "event_type": "start", "at": "2026-11-20T10:00:00Z"}]
    return lms.ingest_events(lms.parse_events(orjson.dumps(rows)), actor=faculty)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["start", "events"])
def test_a_learner_cannot_begin_a_revision_archived_while_they_asked(
    university, faculty, researcher, monkeypatch, path
):
    module = make_module(university, key="closing")
    learner = Student.objects.create(university=university, name="Late")
    ModuleAssignment.objects.create(module=module, student=learner)
    _slow_archiving(monkeypatch)
    begin = {
        "start": lambda: lms.start(student=learner, module=module),  # the view's copy still says published
        "events": lambda: _first_event_batch(learner, module, faculty),
    }[path]

    archived, begun = _concurrently(lambda: lms.archive(actor=researcher, module=module), _after(0.1, begin))

    assert isinstance(archived, Module) and archived.status == "archived", archived
    assert isinstance(begun, (lms.Conflict, lms.bulk.BatchInvalid)), begun  # it waited, then saw it archived
    assert not ModuleProgress.objects.filter(student=learner).exists()
    assert not ModuleAnalyticsEvent.objects.filter(student=learner).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_student_while_a_batch_of_theirs_is_in_flight_takes_its_events_too(university, faculty, monkeypatch):
    from frames import services

    module = make_module(university, key="leaving")
    learner = Student.objects.create(university=university, name="Leaving")
    ModuleAssignment.objects.create(module=module, student=learner)
    refresh = lms.refresh_progress

    def slow_refresh(pairs):  # the batch has copied its events and holds the assignment's lock
        time.sleep(0.5)
        return refresh(pairs)

    monkeypatch.setattr(lms, "refresh_progress", slow_refresh)

    batch, deleted = _concurrently(
        lambda: _first_event_batch(learner, module, faculty),
        _after(0.1, lambda: services.delete(actor=faculty, instance=Student.objects.get(pk=learner.pk))),
    )

    assert isinstance(batch, lms.EventBatchResult) and deleted is None, (batch, deleted)
    assert not Student.objects.filter(pk=learner.pk).exists()
    assert not ModuleAnalyticsEvent.objects.filter(student_id=learner.pk).exists()


def test_publishing_moves_a_students_required_assignment_before_an_optional_one(university, researcher):
    first = make_module(university, key="dup")
    learner = Student.objects.create(university=university, name="Twice")
    second = lms.new_revision(actor=researcher, module=first)
    lms.publish(actor=researcher, module=second)
    due = datetime(2026, 12, 1, tzinfo=UTC)
    ModuleAssignment.objects.create(module=first, student=learner, required=False)  # as the admin could
    ModuleAssignment.objects.create(module=second, student=learner, required=True, due_at=due)
    third = lms.new_revision(actor=researcher, module=second)

    lms.publish(actor=researcher, module=third)

    kept = ModuleAssignment.objects.get(student=learner)
    assert (kept.module, kept.required, kept.due_at) == (third, True, due)


def test_another_universitys_student_in_a_batch_is_refused_as_a_student_only(as_, university, other_university):
    old = make_module(university, key="old-one")
    stranger = Student.objects.create(university=other_university, name="Elsewhere")
    Module.objects.filter(pk=old.pk).update(status="archived")
    rows = [{"student": stranger.pk, "module": old.pk, "event_type": "pause", "at": "2026-11-20T10:00:00Z"}]

    response = as_("a").post(f"{API}/events/", orjson.dumps(rows), content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()["fields"]["0"]) == {"student"}  # nothing said of their assignments
