"""The dashboard's admin: scoped like the API (teacher = owner, co_teacher = colleague,
other_teacher = stranger), every write through the services with one audit entry
(via="admin"), drafts reviewed through the services, the audit trail read-only."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from dashboard import services
from dashboard.admin import per_week
from dashboard.models import AssessmentLog, Cohort, Draft, DraftStatus, PerformanceRecord, Student
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db

STUDENTS = "/admin/dashboard/student/"
COHORTS = "/admin/dashboard/cohort/"
ASSESSMENTS = "/admin/dashboard/assessmentlog/"
DRAFTS = "/admin/dashboard/draft/"
MODULES = "/admin/dashboard/conceptmodule/"
ACTIONS = "/admin/veritas/actionlog/"


def change_url(base: str, obj) -> str:
    return f"{base}{obj.pk}/change/"


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def new_entries(since_id: int):
    return ActionLog.objects.filter(id__gt=since_id).order_by("id")


def last_entry_id() -> int:
    return ActionLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def listed(response) -> set:
    return set(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def student_form(student: Student, **changes) -> dict:
    data = {"external_id": student.external_id, "name": student.name, "email": student.email, "is_active": "on"}
    return {**data, **changes}


TAKEN = timezone.localtime(timezone.now() - timedelta(days=1))


def assessment_form(student: Student | None = None, **changes) -> dict:
    data = {
        "kind": "quiz",
        "subject": "Math",
        "score": "15",
        "max_score": "20",
        "taken_at_0": TAKEN.strftime("%Y-%m-%d"),
        "taken_at_1": TAKEN.strftime("%H:%M:%S"),
        "comment": "",
    }
    if student is not None:
        data["student"] = student.pk
    return {**data, **changes}


@pytest.fixture
def submitted(student, pupil):
    draft = services.create_draft(actor=pupil, student=student, title="On bridges", body="Forces in a truss.")
    return services.submit_draft(actor=pupil, draft=draft)


@pytest.fixture
def in_review(submitted, teacher):
    return services.start_review(actor=teacher, draft=submitted)


# --- scoping -------------------------------------------------------------------------------------


def test_a_teacher_lists_only_the_students_of_their_cohorts(login, teacher, student, other_student):
    response = login(teacher).get(STUDENTS)

    assert response.status_code == 200
    assert listed(response) == {student}


def test_a_colleague_sees_the_student_and_a_stranger_is_turned_away(
    login, co_teacher, other_teacher, other_cohort, student, add_assessment, submitted
):
    assessment = add_assessment(student, 80)

    for url in (change_url(STUDENTS, student), change_url(ASSESSMENTS, assessment), change_url(DRAFTS, submitted)):
        assert login(co_teacher).get(url).status_code == 200, url
        response = login(other_teacher).get(url)
        assert response.status_code == 302, url  # "does not exist", like another owner's object in the API
        assert response["Location"] == "/admin/"
    assert login(other_teacher).get(STUDENTS).context["cl"].result_count == 0


def test_a_stranger_does_not_see_another_cohort_or_its_rows(
    login, other_teacher, other_cohort, cohort, student, add_assessment
):
    add_assessment(student, 80)
    client = login(other_teacher)

    assert client.get(change_url(COHORTS, cohort)).status_code == 302
    assert listed(client.get(COHORTS)) == set(Cohort.objects.filter(staff=other_teacher))
    assert listed(client.get(ASSESSMENTS)) == set()


def test_an_administrator_and_a_superuser_see_everyone(
    login, dashboard_admin, django_user_model, student, other_student
):
    assert listed(login(dashboard_admin).get(STUDENTS)) == {student, other_student}
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    assert listed(login(root).get(STUDENTS)) == {student, other_student}
    assert login(dashboard_admin).get(change_url(STUDENTS, other_student)).status_code == 200


def test_staff_who_teach_no_cohort_have_no_dashboard(login, staff, student):
    client = login(staff)

    assert "dashboard" not in {app["app_label"] for app in client.get("/admin/").context["app_list"]}
    assert client.get(STUDENTS).status_code == 403
    assert client.get(change_url(STUDENTS, student)).status_code == 403


def test_a_teacher_finds_the_dashboard_on_the_admin_index(login, teacher, cohort):
    apps = {app["app_label"]: app for app in login(teacher).get("/admin/").context["app_list"]}

    models = {model["object_name"] for model in apps["dashboard"]["models"]}
    assert models == {"Student", "Cohort", "AssessmentLog", "Draft", "ConceptModule"}
    assert {model["object_name"] for model in apps["veritas"]["models"]} == {"ActionLog"}


def test_a_teacher_reads_the_cohort_but_cannot_change_it(login, teacher, cohort, student):
    client = login(teacher)

    response = client.get(change_url(COHORTS, cohort))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    before = last_entry_id()
    assert client.post(change_url(COHORTS, cohort), {"name": "Renamed", "term": cohort.term}).status_code == 403
    assert not new_entries(before).exists()


@pytest.mark.parametrize("page", ["students", "assessments", "drafts", "cohorts", "actions", "student", "cohort"])
def test_the_pages_cost_a_bounded_number_of_queries(
    page, login, teacher, cohort, student, add_assessment, submitted, django_assert_max_num_queries
):
    more = [Student.objects.create(external_id=f"x{i}", name=f"X {i}", email=f"x{i}@example.com") for i in range(20)]
    cohort.students.add(*more)
    for days, someone in enumerate([student, *more] * 2):
        add_assessment(someone, 50 + days, days=days, subject=["Math", "Science"][days % 2])
    url = {
        "students": STUDENTS,
        "assessments": ASSESSMENTS,
        "drafts": DRAFTS,
        "cohorts": COHORTS,
        "actions": ACTIONS,
        "student": change_url(STUDENTS, student),
        "cohort": change_url(COHORTS, cohort),
    }[page]
    client = login(teacher)
    client.get(url)  # content types and the like: cached after the first request

    with django_assert_max_num_queries(14):  # whatever the number of rows (no query per row); one is the dropout risk
        assert client.get(url).status_code == 200


# --- writes through the services, one audit entry each --------------------------------------------


def test_a_teacher_edits_a_student_and_the_trail_says_admin(login, teacher, student):
    before = last_entry_id()

    response = login(teacher).post(change_url(STUDENTS, student), student_form(student, name="Ada King"))

    assert response.status_code == 302
    student.refresh_from_db()
    assert student.name == "Ada King"
    (entry,) = new_entries(before)
    assert (entry.verb, entry.via, entry.actor, entry.object_type) == ("update", "admin", teacher, "dashboard.student")
    assert entry.changes == {"before": {"name": "Ada Lovelace"}, "after": {"name": "Ada King"}}
    assert (entry.scope_type, entry.scope_id) == ("dashboard.student", student.pk)


def test_a_teacher_may_not_link_a_login_and_the_field_is_read_only(login, teacher, student, make_user):
    other = make_user("someone")

    response = login(teacher).get(change_url(STUDENTS, student))
    assert "user" not in response.context["adminform"].form.fields

    login(teacher).post(change_url(STUDENTS, student), student_form(student, user=other.pk))
    student.refresh_from_db()
    assert student.user_id != other.pk


def test_a_duplicate_email_shows_on_the_form_and_writes_nothing(login, teacher, student, cohort):
    twin = Student.objects.create(external_id="s002", name="Twin", email="twin@example.com")
    cohort.students.add(twin)
    before = last_entry_id()

    response = login(teacher).post(change_url(STUDENTS, twin), student_form(twin, email="ADA@example.com"))

    assert response.status_code == 200
    assert "A student with this email address already exists." in response.content.decode()
    twin.refresh_from_db()
    assert twin.email == "twin@example.com"
    assert not new_entries(before).exists()


def test_a_teacher_adds_a_student_to_their_cohort(login, teacher, cohort, other_cohort):
    client = login(teacher)
    form = client.get(f"{STUDENTS}add/").context["adminform"].form
    assert set(form.fields["cohorts"].queryset) == {cohort}  # not the other cohort
    before = last_entry_id()

    response = client.post(
        f"{STUDENTS}add/",
        {
            "external_id": "s050",
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "is_active": "on",
            "cohorts": [cohort.pk],
        },
    )

    assert response.status_code == 302
    grace = Student.objects.get(external_id="s050")
    assert list(grace.cohorts.all()) == [cohort]
    (entry,) = new_entries(before)
    assert (entry.verb, entry.via, entry.object_id) == ("create", "admin", str(grace.pk))


def test_a_teacher_must_put_a_new_student_in_a_cohort(login, teacher, cohort):
    response = login(teacher).post(
        f"{STUDENTS}add/", {"external_id": "s051", "name": "Nobody", "email": "nobody@example.com", "is_active": "on"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cohorts"]
    assert not Student.objects.filter(external_id="s051").exists()


def test_only_an_administrator_deletes_a_student_and_the_drafts_go_with_it(
    login, teacher, dashboard_admin, student, submitted
):
    assert login(teacher).post(f"{STUDENTS}{student.pk}/delete/", {"post": "yes"}).status_code == 403
    before = last_entry_id()

    response = login(dashboard_admin).post(f"{STUDENTS}{student.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Student.objects.filter(pk=student.pk).exists()
    assert not Draft.objects.filter(pk=submitted.pk).exists()
    assert [(e.verb, e.via, e.object_type) for e in new_entries(before)] == [("delete", "admin", "dashboard.student")]


def test_a_teacher_records_corrects_and_deletes_an_assessment_through_the_services(login, teacher, student):
    client = login(teacher)
    before = last_entry_id()

    response = client.post(f"{ASSESSMENTS}add/", assessment_form(student))
    assert response.status_code == 302
    assessment = AssessmentLog.objects.get(student=student)
    assert assessment.recorded_by == teacher
    record = PerformanceRecord.objects.get(student=student, scope="overall")
    assert record.mean == pytest.approx(75)

    response = client.post(change_url(ASSESSMENTS, assessment), assessment_form(score="18"))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.mean == pytest.approx(90)

    response = client.post(f"{ASSESSMENTS}{assessment.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PerformanceRecord.objects.filter(student=student).exists()

    entries = list(new_entries(before))
    assert [(e.verb, e.via) for e in entries] == [("create", "admin"), ("update", "admin"), ("delete", "admin")]
    assert entries[1].changes == {"before": {"score": "15.00"}, "after": {"score": "18.00"}}


def test_a_score_above_the_maximum_is_an_error_on_the_form(login, teacher, student):
    before = last_entry_id()

    response = login(teacher).post(f"{ASSESSMENTS}add/", assessment_form(student, score="25"))

    assert response.status_code == 200
    assert "The score must be between 0 and the maximum score." in response.content.decode()
    assert not AssessmentLog.objects.exists()
    assert not new_entries(before).exists()


def test_a_teacher_cannot_record_for_another_cohorts_student(login, teacher, cohort, other_student):
    response = login(teacher).post(f"{ASSESSMENTS}add/", assessment_form(other_student))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["student"]
    assert not AssessmentLog.objects.exists()


def test_a_stranger_cannot_delete_an_assessment_they_do_not_see(
    login, other_teacher, other_cohort, student, add_assessment
):
    assessment = add_assessment(student, 80)

    response = login(other_teacher).post(f"{ASSESSMENTS}{assessment.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert AssessmentLog.objects.filter(pk=assessment.pk).exists()


def test_a_prerequisite_cycle_is_an_error_on_the_prerequisites_field(login, dashboard_admin):
    first = services.save_module(actor=dashboard_admin, data={"subject": "Math", "code": "ALG1", "name": "Linear"})
    second = services.save_module(
        actor=dashboard_admin, data={"subject": "Math", "code": "ALG2", "name": "Quadratic", "prerequisites": [first]}
    )
    before = last_entry_id()
    form = {
        "subject": "Math",
        "code": "ALG1",
        "name": "Linear",
        "order": "0",
        "description": "",
        "prerequisites": [second.pk],
    }

    response = login(dashboard_admin).post(change_url(MODULES, first), form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["prerequisites"]
    assert errors == ["This would make a cycle of prerequisites: ALG1 → ALG2 → ALG1."]
    assert not first.prerequisites.exists()
    assert not new_entries(before).exists()


def test_an_administrator_creates_a_cohort_with_one_audit_entry(login, dashboard_admin, teacher, student):
    before = last_entry_id()

    response = login(dashboard_admin).post(
        f"{COHORTS}add/", {"name": "Year 11", "term": "2026 autumn", "staff": [teacher.pk], "students": [student.pk]}
    )

    assert response.status_code == 302
    cohort = Cohort.objects.get(name="Year 11")
    assert list(cohort.staff.all()) == [teacher]
    (entry,) = new_entries(before)
    assert (entry.verb, entry.via, entry.object_type) == ("create", "admin", "dashboard.cohort")
    assert entry.changes["after"]["students"] == [student.pk]


# --- drafts ---------------------------------------------------------------------------------------


def test_a_teacher_starts_the_review_and_returns_the_draft_with_feedback(login, teacher, submitted):
    client = login(teacher)
    url = change_url(DRAFTS, submitted)
    page = client.get(url).content.decode()
    assert 'name="_start_review"' in page
    assert 'name="_return"' not in page  # not before the review starts
    before = last_entry_id()

    response = client.post(url, {"_start_review": "Start review"})
    assert response.status_code == 302
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert 'name="_return"' in page and 'name="_accept"' in page

    response = client.post(url, {"_return": "Return with feedback", "feedback": "Quote the text."})
    assert response.status_code == 302
    draft = Draft.objects.get(pk=submitted.pk)
    assert (draft.status, draft.feedback, draft.reviewer) == (DraftStatus.RETURNED, "Quote the text.", teacher)
    entries = list(new_entries(before))
    assert [(e.verb, e.via) for e in entries] == [("start_review", "admin"), ("return", "admin")]
    assert entries[1].changes["after"] == {"status": "returned", "feedback": "Quote the text."}
    assert "returned to the student with your feedback" in messages_of(client.get(url))[0]


def test_returning_without_feedback_is_an_error_on_the_feedback_field(login, teacher, in_review):
    response = login(teacher).post(change_url(DRAFTS, in_review), {"_return": "Return with feedback", "feedback": " "})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["feedback"]
    assert Draft.objects.get(pk=in_review.pk).status == DraftStatus.IN_REVIEW


def test_an_illegal_transition_is_a_message_on_the_page_not_a_server_error(login, teacher, submitted):
    before = last_entry_id()

    response = login(teacher).post(change_url(DRAFTS, submitted), {"_accept": "Accept"})

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == ["A draft that is Submitted cannot become accepted; allowed: in_review."]
    assert Draft.objects.get(pk=submitted.pk).status == DraftStatus.SUBMITTED
    assert not new_entries(before).exists()


def test_a_draft_that_changed_meanwhile_says_so(login, teacher, co_teacher, in_review):
    services.accept_draft(actor=co_teacher, draft=in_review)

    response = login(teacher).post(change_url(DRAFTS, in_review), {"_return": "Return", "feedback": "Too late"})

    assert response.status_code == 200
    assert "cannot become returned; allowed: none: it is final" in response.content.decode()
    assert Draft.objects.get(pk=in_review.pk).feedback == ""


def test_the_list_actions_go_through_the_services_and_say_what_was_refused(login, teacher, student, pupil, submitted):
    unsent = services.create_draft(actor=pupil, student=student, title="Unsent")
    before = last_entry_id()

    response = login(teacher).post(
        DRAFTS, {"action": "start_review_selected", ACTION_CHECKBOX_NAME: [submitted.pk, unsent.pk]}, follow=True
    )

    assert Draft.objects.get(pk=submitted.pk).status == DraftStatus.IN_REVIEW
    assert Draft.objects.get(pk=unsent.pk).status == DraftStatus.DRAFT
    texts = messages_of(response)
    assert "“Unsent” was not changed: A draft that is Draft cannot become in_review; allowed: submitted." in texts
    assert "Started review of 1 draft." in texts
    assert [(e.verb, e.via) for e in new_entries(before)] == [("start_review", "admin")]


def test_return_selected_asks_for_feedback_first(login, teacher, in_review):
    client = login(teacher)
    selection = {"action": "return_selected", ACTION_CHECKBOX_NAME: [in_review.pk]}

    page = client.post(DRAFTS, selection)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/dashboard/draft/return_selected.html"
    assert Draft.objects.get(pk=in_review.pk).status == DraftStatus.IN_REVIEW

    empty = client.post(DRAFTS, {**selection, "feedback": ""})
    assert empty.status_code == 200
    assert empty.context["form"].errors["feedback"]

    response = client.post(DRAFTS, {**selection, "feedback": "Cite your sources."}, follow=True)
    draft = Draft.objects.get(pk=in_review.pk)
    assert (draft.status, draft.feedback) == (DraftStatus.RETURNED, "Cite your sources.")
    assert "Returned with feedback 1 draft." in messages_of(response)


def test_a_stranger_cannot_review_another_cohorts_draft_through_an_action(
    login, other_teacher, other_cohort, submitted
):
    login(other_teacher).post(DRAFTS, {"action": "start_review_selected", ACTION_CHECKBOX_NAME: [submitted.pk]})

    assert Draft.objects.get(pk=submitted.pk).status == DraftStatus.SUBMITTED


def test_drafts_are_neither_added_nor_deleted_in_the_admin(login, dashboard_admin, submitted):
    client = login(dashboard_admin)

    assert client.get(f"{DRAFTS}add/").status_code == 403
    assert client.post(f"{DRAFTS}{submitted.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in dict(client.get(DRAFTS).context["action_form"].fields["action"].choices)


# --- the read-only sections ------------------------------------------------------------------------


def test_the_student_page_shows_the_chart_the_performance_the_drafts_and_the_trail(
    login, teacher, student, add_assessment, submitted
):
    now = timezone.now()
    for days, (score, subject) in enumerate([(60, "Math"), (70, "Science"), (80, "Math"), (90, "Science")]):
        add_assessment(student, score, subject=subject, taken_at=now - timedelta(days=21 - 7 * days))

    response = login(teacher).get(change_url(STUDENTS, student))

    page = response.content.decode()
    chart = re.search(r'<figure class="vchart vchart-lines" id="dashboard-score-chart">(.*?)</figure>', page, re.S)
    assert chart, "the score chart"
    assert "<svg" in chart[1] and chart[1].count("<polyline") >= 2
    assert re.findall(r'<li><span class="vchart-swatch[^>]*></span>(\w+)</li>', chart[1]) == ["Math", "Science"]
    table = re.search(r'<table class="dashboard-table" id="performance-table">(.*?)</table>', page, re.S)[1]
    assert re.findall(r'<th scope="row"[^>]*>([^<]+)</th>', table) == ["All subjects", "Math", "Science"]
    overall = re.search(r"All subjects</th>(.*?)</tr>", table, re.S)[1]
    assert re.findall(r'<td class="num">([^<]*)</td>', overall)[:4] == [
        "4",
        "75.0",
        "90.0",
        "90.0",
    ]  # n, mean, last, best
    assert "On bridges" in page and "veritas-badge-submitted" in page
    audit = re.search(r'id="audit-table">(.*?)</table>', page, re.S)[1]
    assert audit.count("<tr>") == 1 + 4 + 2  # header, four assessments, the draft created and submitted
    assert "submit dashboard.draft On bridges" in audit


def test_the_student_page_of_a_student_without_assessments_renders(login, teacher, student):
    response = login(teacher).get(change_url(STUDENTS, student))

    assert response.status_code == 200
    assert "No assessments yet." in response.content.decode()


def test_the_cohort_page_shows_the_overview_with_flags_in_words(login, teacher, cohort, student, add_assessment):
    now = timezone.now()
    for days, score in enumerate([95, 90, 70, 55, 40]):  # falling, the latest recent
        add_assessment(student, score, taken_at=now - timedelta(days=20 - 5 * days))
    idle = Student.objects.create(external_id="s003", name="Idle Student", email="idle@example.com")
    cohort.students.add(idle)
    add_assessment(idle, 70, taken_at=now - timedelta(days=30))

    response = login(teacher).get(change_url(COHORTS, cohort))

    page = response.content.decode()
    table = re.search(r'<table class="dashboard-table" id="overview-table">(.*?)</table>', page, re.S)[1]
    rows = {
        name: row
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
        if (name := re.search(r">([^<]+)</a>", row)) and (name := name[1])
    }
    assert set(rows) == {"Ada Lovelace", "Idle Student"}
    assert ">declining</span>" in rows["Ada Lovelace"] and ">inactive</span>" not in rows["Ada Lovelace"]
    assert ">inactive</span>" in rows["Idle Student"] and ">declining</span>" not in rows["Idle Student"]
    assert f'href="{change_url(STUDENTS, student)}"' in rows["Ada Lovelace"]
    assert re.search(r'id="kpi-declining">1<', page) and re.search(r'id="kpi-inactive">1<', page)


def test_the_cohort_page_links_the_csv_export(login, teacher, cohort, student):
    client = login(teacher)

    link = re.search(r'<a href="([^"]+)" id="overview-csv">', client.get(change_url(COHORTS, cohort)).content.decode())

    response = client.get(html.unescape(link[1]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "Ada Lovelace" in response.content.decode()


# --- the audit trail ------------------------------------------------------------------------------


def test_the_trail_has_no_add_change_or_delete_for_anyone(login, django_user_model, teacher, student):
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    services.update_student(actor=teacher, student=student, data={"name": "Ada King"})
    entry = ActionLog.objects.get()
    client = login(root)

    assert client.get(f"{ACTIONS}add/").status_code == 403
    page = client.get(change_url(ACTIONS, entry))
    assert page.status_code == 200
    assert not page.context["has_change_permission"] and not page.context["has_delete_permission"]
    assert "name</strong>: Ada Lovelace → Ada King" in page.content.decode()
    assert client.post(change_url(ACTIONS, entry), {}).status_code == 403
    assert client.post(f"{ACTIONS}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(ACTIONS).context["action_form"] is None  # no actions, no "delete selected"
    assert ActionLog.objects.filter(pk=entry.pk).exists()


def test_a_teacher_reads_the_entries_about_their_students_only(
    login, teacher, dashboard_admin, student, other_student, add_assessment
):
    add_assessment(student, 80)
    add_assessment(other_student, 60, actor=dashboard_admin)

    mine = listed(login(teacher).get(ACTIONS))
    everything = listed(login(dashboard_admin).get(ACTIONS))

    assert {(e.scope_id, e.verb) for e in mine} == {(student.pk, "create")}
    assert {e.scope_id for e in everything} == {student.pk, other_student.pk}


def test_the_trail_filters_by_actor_verb_object_and_date_and_finds_an_object_id(
    login, dashboard_admin, teacher, student, add_assessment
):
    assessment = AssessmentLog.objects.get(pk=add_assessment(student, 80).pk)  # as stored: 80.00
    services.correct_assessment(actor=dashboard_admin, assessment=assessment, data={"score": Decimal("85.00")})
    client = login(dashboard_admin)
    today = timezone.now()

    assert {e.verb for e in listed(client.get(ACTIONS, {"actor_name": "teacher"}))} == {"create"}
    assert {e.actor for e in listed(client.get(ACTIONS, {"verb": "update"}))} == {dashboard_admin}
    assert len(listed(client.get(ACTIONS, {"object_type": "dashboard.assessmentlog"}))) == 2
    dated = {"at__year": today.year, "at__month": today.month, "at__day": today.day}
    assert len(listed(client.get(ACTIONS, dated))) == 2
    assert len(listed(client.get(ACTIONS, {"q": str(assessment.pk)}))) == 2
    page = client.get(ACTIONS, {"verb": "update"}).content.decode()
    assert "score</strong>: 80.00 → 85.00" in page


@pytest.mark.parametrize(
    ("trend", "text"),
    [(None, "\u2013"), (0.0, "0.0"), (-0.001, "0.0"), (0.3, "+2.1"), (-0.3, "\u22122.1"), (720.0, "+5,040.0")],
)
def test_trends_read_as_signed_points_a_week(trend, text):
    assert per_week(trend, unit=False) == text
