"""dashboard/services.py directly: the draft state machine, prerequisite cycles, who may
write what, the audit entry of each write, and exact records after corrections that move an
assessment to another subject or concept module."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboard import performance, services
from dashboard.models import (
    AssessmentLog,
    ConceptModule,
    Draft,
    DraftStatus,
    DraftVersion,
    PerformanceRecord,
    Student,
)
from veritas.models import ActionLog

from .conftest import T0

pytestmark = pytest.mark.django_db

ALL = [str(status) for status in DraftStatus]


def entries(**filters) -> list[ActionLog]:
    return list(ActionLog.objects.filter(**filters).order_by("id"))


# --- drafts ------------------------------------------------------------------------------------


@pytest.fixture
def draft(student, pupil):
    return services.create_draft(actor=pupil, student=student, title="On engines", body="one two three")


def put(draft: Draft, status: str) -> Draft:
    """Set up a draft in a status (test arrangement; the services move it in the tests)."""
    Draft.objects.filter(pk=draft.pk).update(status=status)
    draft.refresh_from_db()
    return draft


ACTIONS = {
    # action → (the status it leads to, how to call it: (draft, pupil, teacher))
    "submit": (DraftStatus.SUBMITTED, lambda d, pupil, teacher: services.submit_draft(actor=pupil, draft=d)),
    "start_review": (DraftStatus.IN_REVIEW, lambda d, pupil, teacher: services.start_review(actor=teacher, draft=d)),
    "return": (
        DraftStatus.RETURNED,
        lambda d, pupil, teacher: services.return_draft(actor=teacher, draft=d, feedback="Cite your sources."),
    ),
    "accept": (DraftStatus.ACCEPTED, lambda d, pupil, teacher: services.accept_draft(actor=teacher, draft=d)),
}
LEGAL = {
    (DraftStatus.DRAFT, "submit"),
    (DraftStatus.SUBMITTED, "start_review"),
    (DraftStatus.IN_REVIEW, "return"),
    (DraftStatus.IN_REVIEW, "accept"),
    (DraftStatus.RETURNED, "submit"),
}


class TestDraftStateMachine:
    @pytest.mark.parametrize("status", list(DraftStatus))
    @pytest.mark.parametrize("action", list(ACTIONS))
    def test_every_transition_is_allowed_or_refused_naming_the_allowed_ones(
        self, draft, pupil, teacher, status, action
    ):
        put(draft, status)
        target, call = ACTIONS[action]
        before = ActionLog.objects.count()

        if (status, action) in LEGAL:
            moved = call(draft, pupil, teacher)
            assert moved.status == target
            assert Draft.objects.get(pk=draft.pk).status == target
            assert ActionLog.objects.count() == before + 1
        else:
            with pytest.raises(services.TransitionNotAllowed) as refused:
                call(draft, pupil, teacher)
            assert refused.value.current == status
            assert refused.value.target == target
            assert refused.value.allowed == tuple(str(s) for s in Draft.TRANSITIONS[status])
            assert Draft.objects.get(pk=draft.pk).status == status
            assert ActionLog.objects.count() == before
            allowed = ", ".join(refused.value.allowed) or "none: it is final"
            assert f"allowed: {allowed}" in str(refused.value)

    def test_the_transition_table_is_the_one_the_issue_describes(self):
        assert {(str(source), str(target)) for source, targets in Draft.TRANSITIONS.items() for target in targets} == {
            ("draft", "submitted"),
            ("submitted", "in_review"),
            ("in_review", "returned"),
            ("in_review", "accepted"),
            ("returned", "submitted"),
        }
        assert set(Draft.TRANSITIONS) == set(DraftStatus)

    def test_each_submission_keeps_a_version(self, draft, pupil, teacher):
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=teacher, draft=draft)
        services.return_draft(actor=teacher, draft=draft, feedback="Longer, please.")
        services.edit_draft(actor=pupil, draft=draft, data={"body": "one two three four five", "title": "Engines"})
        services.submit_draft(actor=pupil, draft=draft)

        versions = list(DraftVersion.objects.filter(draft=draft).values_list("number", "title", "body", "word_count"))
        assert versions == [(1, "On engines", "one two three", 3), (2, "Engines", "one two three four five", 5)]
        draft.refresh_from_db()
        assert draft.status == DraftStatus.SUBMITTED
        assert draft.submitted_at == DraftVersion.objects.get(draft=draft, number=2).submitted_at
        assert draft.feedback == "Longer, please."

    def test_an_edit_through_a_copy_read_before_a_submission_is_refused(self, draft, pupil):
        stale = Draft.objects.get(pk=draft.pk)
        services.submit_draft(actor=pupil, draft=draft)

        with pytest.raises(services.TransitionNotAllowed):
            services.edit_draft(actor=pupil, draft=stale, data={"body": "after the deadline"})

        assert Draft.objects.get(pk=draft.pk).status == DraftStatus.SUBMITTED
        assert Draft.objects.get(pk=draft.pk).body == "one two three"

    def test_an_edit_of_a_returned_draft_keeps_the_review(self, draft, pupil, teacher):
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=teacher, draft=draft)
        services.return_draft(actor=teacher, draft=draft, feedback="Say more.")

        services.edit_draft(actor=pupil, draft=draft, data={"body": "much more"})

        stored = Draft.objects.get(pk=draft.pk)
        assert (stored.status, stored.feedback, stored.reviewer, stored.body) == (
            DraftStatus.RETURNED,
            "Say more.",
            teacher,
            "much more",
        )
        assert stored.submitted_at is not None

    def test_a_review_records_the_reviewer_and_feedback(self, draft, pupil, co_teacher):
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=co_teacher, draft=draft)
        accepted = services.accept_draft(actor=co_teacher, draft=draft, feedback="Well argued.")

        assert accepted.reviewer == co_teacher
        assert accepted.feedback == "Well argued."
        assert accepted.reviewed_at is not None

    def test_returning_needs_feedback(self, draft, pupil, teacher):
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=teacher, draft=draft)

        with pytest.raises(ValidationError) as refused:
            services.return_draft(actor=teacher, draft=draft, feedback="  ")

        assert "feedback" in refused.value.message_dict
        assert Draft.objects.get(pk=draft.pk).status == DraftStatus.IN_REVIEW

    @pytest.mark.parametrize("status", [DraftStatus.DRAFT, DraftStatus.RETURNED])
    def test_the_owner_edits_a_draft_or_a_returned_one(self, draft, pupil, status):
        put(draft, status)

        services.edit_draft(actor=pupil, draft=draft, data={"body": "rewritten"})

        assert Draft.objects.get(pk=draft.pk).body == "rewritten"

    @pytest.mark.parametrize("status", [DraftStatus.SUBMITTED, DraftStatus.IN_REVIEW, DraftStatus.ACCEPTED])
    def test_no_one_edits_a_draft_under_review_or_accepted(self, draft, pupil, status):
        put(draft, status)

        with pytest.raises(services.TransitionNotAllowed):
            services.edit_draft(actor=pupil, draft=draft, data={"body": "sneaky"})

        assert Draft.objects.get(pk=draft.pk).body == "one two three"

    @pytest.mark.parametrize("who", ["teacher", "co_teacher", "other_teacher", "dashboard_admin", "stranger"])
    def test_only_the_owner_creates_edits_and_submits(self, request, draft, student, who):
        user = request.getfixturevalue(who)

        with pytest.raises(PermissionDenied):
            services.create_draft(actor=user, student=student, title="Not mine")
        with pytest.raises(PermissionDenied):
            services.edit_draft(actor=user, draft=draft, data={"body": "not mine"})
        with pytest.raises(PermissionDenied):
            services.submit_draft(actor=user, draft=draft)

        assert Draft.objects.filter(student=student).count() == 1
        assert Draft.objects.get(pk=draft.pk).body == "one two three"

    def test_a_student_without_a_login_has_no_owner_to_write_drafts(self, other_student, pupil):
        with pytest.raises(PermissionDenied):
            services.create_draft(actor=pupil, student=other_student, title="Not mine")

    @pytest.mark.parametrize("who", ["other_teacher", "pupil", "stranger"])
    def test_only_the_cohort_staff_or_an_administrator_reviews(self, request, draft, pupil, dashboard_admin, who):
        services.submit_draft(actor=pupil, draft=draft)

        with pytest.raises(PermissionDenied):
            services.start_review(actor=request.getfixturevalue(who), draft=draft)

        assert services.start_review(actor=dashboard_admin, draft=draft).status == DraftStatus.IN_REVIEW


# --- prerequisites -----------------------------------------------------------------------------


@pytest.fixture
def modules(dashboard_admin):
    def make(code, order):
        data = {"subject": "Math", "code": code, "name": code, "order": order}
        return services.save_module(actor=dashboard_admin, data=data)

    return make("ALG1", 1), make("ALG2", 2), make("ALG3", 3)


def prerequisites_of(module) -> set[str]:
    return set(ConceptModule.objects.get(pk=module.pk).prerequisites.values_list("code", flat=True))


class TestPrerequisiteCycles:
    def test_a_module_cannot_require_itself(self, dashboard_admin, modules):
        alg1, _, _ = modules

        with pytest.raises(ValidationError) as refused:
            services.save_module(actor=dashboard_admin, module=alg1, data={"prerequisites": [alg1]})

        assert refused.value.message_dict["prerequisites"] == ["This would make a cycle of prerequisites: ALG1 → ALG1."]
        assert prerequisites_of(alg1) == set()

    def test_a_two_cycle_is_refused_naming_both(self, dashboard_admin, modules):
        alg1, alg2, _ = modules
        services.save_module(actor=dashboard_admin, module=alg2, data={"prerequisites": [alg1]})

        with pytest.raises(ValidationError) as refused:
            services.save_module(actor=dashboard_admin, module=alg1, data={"prerequisites": [alg2]})

        assert refused.value.message_dict["prerequisites"] == [
            "This would make a cycle of prerequisites: ALG1 → ALG2 → ALG1."
        ]
        assert prerequisites_of(alg1) == set()

    def test_a_three_cycle_is_refused_naming_all_three(self, dashboard_admin, modules):
        alg1, alg2, alg3 = modules
        services.save_module(actor=dashboard_admin, module=alg2, data={"prerequisites": [alg1]})
        services.save_module(actor=dashboard_admin, module=alg3, data={"prerequisites": [alg2]})
        before = ActionLog.objects.count()

        with pytest.raises(ValidationError) as refused:
            services.save_module(actor=dashboard_admin, module=alg1, data={"prerequisites": [alg3], "name": "Renamed"})

        assert refused.value.message_dict["prerequisites"] == [
            "This would make a cycle of prerequisites: ALG1 → ALG3 → ALG2 → ALG1."
        ]
        assert prerequisites_of(alg1) == set()
        assert ConceptModule.objects.get(pk=alg1.pk).name == "ALG1"
        assert ActionLog.objects.count() == before

    def test_a_diamond_is_no_cycle(self, dashboard_admin, modules):
        alg1, alg2, alg3 = modules
        services.save_module(actor=dashboard_admin, module=alg2, data={"prerequisites": [alg1]})

        services.save_module(actor=dashboard_admin, module=alg3, data={"prerequisites": [alg1, alg2]})

        assert prerequisites_of(alg3) == {"ALG1", "ALG2"}

    def test_a_new_module_may_require_existing_ones(self, dashboard_admin, modules):
        alg1, alg2, _ = modules

        new = services.save_module(
            actor=dashboard_admin,
            data={"subject": "Math", "code": "ALG4", "name": "ALG4", "prerequisites": [alg1, alg2]},
        )

        assert prerequisites_of(new) == {"ALG1", "ALG2"}


# --- permissions -------------------------------------------------------------------------------

QUIZ = {"kind": "quiz", "subject": "Math", "score": Decimal(7), "max_score": Decimal(10), "taken_at": T0}


class TestPermissions:
    @pytest.mark.parametrize("who", ["other_teacher", "pupil", "stranger", "staff"])
    def test_only_the_cohort_staff_write_a_students_assessments(self, request, student, add_assessment, who):
        user = request.getfixturevalue(who)
        assessment = add_assessment(student, 70)

        with pytest.raises(PermissionDenied):
            services.record_assessment(actor=user, student=student, data=QUIZ)
        with pytest.raises(PermissionDenied):
            services.correct_assessment(actor=user, assessment=assessment, data={"score": Decimal(1)})
        with pytest.raises(PermissionDenied):
            services.delete_assessment(actor=user, assessment=assessment)

        assert list(AssessmentLog.objects.values_list("score", flat=True)) == [Decimal(70)]
        assert len(entries(verb="create", object_type="dashboard.assessmentlog")) == 1

    @pytest.mark.parametrize("who", ["teacher", "co_teacher", "dashboard_admin"])
    def test_the_cohort_staff_and_administrators_do(self, request, student, who):
        user = request.getfixturevalue(who)

        assessment = services.record_assessment(actor=user, student=student, data=QUIZ)
        services.correct_assessment(actor=user, assessment=assessment, data={"score": Decimal(8)})
        services.delete_assessment(actor=user, assessment=assessment)

        assert not AssessmentLog.objects.exists()
        assert not PerformanceRecord.objects.exists()

    def test_a_stranger_teacher_cannot_change_the_student(self, student, other_teacher):
        with pytest.raises(PermissionDenied):
            services.update_student(actor=other_teacher, student=student, data={"name": "Someone"})
        assert Student.objects.get(pk=student.pk).name == "Ada Lovelace"

    def test_linking_a_login_needs_the_administrators_permission(self, student, teacher, make_user):
        with pytest.raises(PermissionDenied):
            services.update_student(actor=teacher, student=student, data={"user": make_user("other")})

    def test_only_administrators_delete_students_and_manage_cohorts_and_modules(self, student, cohort, teacher):
        with pytest.raises(PermissionDenied):
            services.delete_student(actor=teacher, student=student)
        with pytest.raises(PermissionDenied):
            services.save_cohort(actor=teacher, data={"name": "New", "term": "2027"})
        with pytest.raises(PermissionDenied):
            services.save_cohort(actor=teacher, cohort=cohort, data={"name": "Renamed"})
        with pytest.raises(PermissionDenied):
            services.save_module(actor=teacher, data={"subject": "Math", "code": "X1", "name": "X"})
        assert Student.objects.filter(pk=student.pk).exists()

    def test_staff_create_students_only_into_cohorts_they_teach(self, teacher, cohort, other_cohort):
        data = {"external_id": "s100", "name": "New", "email": "new@example.com"}

        with pytest.raises(PermissionDenied):
            services.create_student(actor=teacher, data=data, cohorts=[other_cohort])
        with pytest.raises(PermissionDenied):
            services.create_student(actor=teacher, data=data)  # into no cohort: nobody would teach them
        created = services.create_student(actor=teacher, data=data, cohorts=[cohort])

        assert list(created.cohorts.all()) == [cohort]

    def test_an_email_taken_in_another_case_is_refused(self, student, teacher, cohort):
        with pytest.raises(ValidationError) as refused:
            services.create_student(
                actor=teacher,
                data={"external_id": "s101", "name": "Twin", "email": "ADA@example.com"},
                cohorts=[cohort],
            )

        assert "A student with this email address already exists." in refused.value.messages
        assert not Student.objects.filter(external_id="s101").exists()


# --- audit entries -----------------------------------------------------------------------------


class TestAuditEntries:
    def test_creating_an_assessment_records_who_what_and_whose(self, student, teacher, add_assessment):
        assessment = add_assessment(student, 70)

        (entry,) = entries(object_type="dashboard.assessmentlog")
        assert entry.verb == "create"
        assert entry.actor == teacher and entry.actor_name == "teacher"
        assert entry.object_id == str(assessment.pk)
        assert (entry.scope_type, entry.scope_id) == ("dashboard.student", student.pk)
        assert entry.via == ActionLog.Via.SYSTEM  # outside a request or command
        assert entry.request_id == "" and entry.client_address is None
        assert Decimal(entry.changes["after"]["score"]) == 70

    def test_a_correction_records_before_and_after_of_what_changed(self, student, add_assessment, teacher):
        assessment = add_assessment(student, 70)

        services.correct_assessment(
            actor=teacher, assessment=assessment, data={"score": Decimal(65), "subject": "Math", "comment": ""}
        )

        entry = entries(verb="update")[-1]
        assert set(entry.changes["before"]) == set(entry.changes["after"]) == {"score"}
        assert Decimal(entry.changes["before"]["score"]) == 70
        assert Decimal(entry.changes["after"]["score"]) == 65
        assert entry.scope_id == student.pk

    def test_a_correction_that_changes_nothing_records_nothing(self, student, add_assessment, teacher):
        assessment = add_assessment(student, 70)

        services.correct_assessment(actor=teacher, assessment=assessment, data={"subject": "Math"})

        assert not entries(verb="update")

    def test_a_deletion_records_what_was_deleted(self, student, add_assessment, teacher):
        assessment = add_assessment(student, 70)
        pk = assessment.pk

        services.delete_assessment(actor=teacher, assessment=assessment)

        (entry,) = entries(verb="delete")
        assert entry.object_id == str(pk)
        assert entry.changes["before"]["subject"] == "Math"
        assert entry.scope_id == student.pk

    def test_each_draft_write_records_one_entry_with_its_verb(self, draft, pupil, teacher):
        services.edit_draft(actor=pupil, draft=draft, data={"title": "On steam engines"})
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=teacher, draft=draft)
        services.return_draft(actor=teacher, draft=draft, feedback="More.")
        services.submit_draft(actor=pupil, draft=draft)
        services.start_review(actor=teacher, draft=draft)
        services.accept_draft(actor=teacher, draft=draft)

        drafts = entries(object_type="dashboard.draft")
        assert [(e.verb, e.actor_name) for e in drafts] == [
            ("create", "pupil"),
            ("update", "pupil"),
            ("submit", "pupil"),
            ("start_review", "teacher"),
            ("return", "teacher"),
            ("submit", "pupil"),
            ("start_review", "teacher"),
            ("accept", "teacher"),
        ]
        assert {e.scope_id for e in drafts} == {draft.student_id}
        assert drafts[1].changes == {"before": {"title": "On engines"}, "after": {"title": "On steam engines"}}
        assert drafts[4].changes["after"] == {"status": "returned", "feedback": "More."}
        assert drafts[5].changes["after"] == {"status": "submitted", "version": 2}

    def test_student_cohort_and_module_writes_are_recorded(self, dashboard_admin, cohort):
        student = services.create_student(
            actor=dashboard_admin, data={"external_id": "s200", "name": "Grace", "email": "g@example.com"}
        )
        student_id = student.pk
        services.update_student(actor=dashboard_admin, student=student, data={"name": "Grace Hopper"})
        services.save_cohort(actor=dashboard_admin, cohort=cohort, data={"students": [student]})
        module = services.save_module(actor=dashboard_admin, data={"subject": "CS", "code": "CS1", "name": "Compilers"})
        services.delete_module(actor=dashboard_admin, module=module)
        services.delete_student(actor=dashboard_admin, student=student)

        assert [(e.verb, e.object_type) for e in entries()] == [
            ("create", "dashboard.student"),
            ("update", "dashboard.student"),
            ("update", "dashboard.cohort"),
            ("create", "dashboard.conceptmodule"),
            ("delete", "dashboard.conceptmodule"),
            ("delete", "dashboard.student"),
        ]
        update = entries(verb="update", object_type="dashboard.student")[0]
        assert update.changes == {"before": {"name": "Grace"}, "after": {"name": "Grace Hopper"}}
        assert entries(verb="update", object_type="dashboard.cohort")[0].changes["after"] == {"students": [student_id]}

    def test_a_refused_write_records_nothing(self, student, teacher, other_teacher):
        with pytest.raises(PermissionDenied):
            services.record_assessment(actor=other_teacher, student=student, data=QUIZ)
        with pytest.raises(ValidationError):
            services.record_assessment(actor=teacher, student=student, data={**QUIZ, "score": Decimal(11)})

        assert not ActionLog.objects.exists()
        assert not AssessmentLog.objects.exists()


# --- exactness after moving corrections ---------------------------------------------------------


class TestCorrectionsThatMoveAnAssessment:
    @pytest.fixture
    def algebra(self, dashboard_admin):
        return services.save_module(actor=dashboard_admin, data={"subject": "Math", "code": "ALG1", "name": "Algebra"})

    @pytest.fixture
    def mechanics(self, dashboard_admin):
        return services.save_module(
            actor=dashboard_admin, data={"subject": "Physics", "code": "MEC1", "name": "Mechanics"}
        )

    def record(self, student, **key):
        return PerformanceRecord.objects.filter(student=student, **key).first()

    def test_moving_to_another_subject_and_module_updates_both_sides(
        self, student, teacher, add_assessment, algebra, mechanics
    ):
        add_assessment(student, 80, days=0, concept_modules=[algebra])
        moved = add_assessment(student, 40, days=1, concept_modules=[algebra])
        assert self.record(student, scope="subject", subject="Math").count == 2

        services.correct_assessment(
            actor=teacher, assessment=moved, data={"subject": "Physics", "concept_modules": [mechanics]}
        )

        math = self.record(student, scope="subject", subject="Math")
        physics = self.record(student, scope="subject", subject="Physics")
        assert (math.count, math.mean, math.last) == (1, 80.0, 80.0)
        assert (physics.count, physics.mean, physics.first_at) == (1, 40.0, T0 + timedelta(days=1))
        assert self.record(student, scope="concept", concept_module=algebra).count == 1
        assert self.record(student, scope="concept", concept_module=mechanics).mean == 40.0
        overall = self.record(student, scope="overall")
        assert (overall.count, overall.mean) == (2, 60.0)
        assert performance.differences() == []

    def test_moving_the_only_row_away_removes_the_records_it_leaves(
        self, student, teacher, add_assessment, algebra, mechanics
    ):
        only = add_assessment(student, 55, concept_modules=[algebra])

        services.correct_assessment(
            actor=teacher, assessment=only, data={"subject": "Physics", "concept_modules": [mechanics]}
        )

        assert self.record(student, scope="subject", subject="Math") is None
        assert self.record(student, scope="concept", concept_module=algebra) is None
        assert self.record(student, scope="subject", subject="Physics").count == 1
        assert performance.differences() == []

    def test_a_back_dated_correction_changes_last_and_the_decaying_average(self, student, teacher, add_assessment):
        add_assessment(student, 50, days=0)
        late = add_assessment(student, 90, days=5)
        assert self.record(student, scope="overall").last == 90.0

        services.correct_assessment(actor=teacher, assessment=late, data={"taken_at": T0 - timedelta(days=1)})

        overall = self.record(student, scope="overall")
        assert overall.last == 50.0
        assert overall.decaying == pytest.approx(0.35 * 90 + 0.65 * 50)
        assert overall.first_at == T0 - timedelta(days=1)
        assert performance.differences() == []

    def test_deleting_a_module_removes_its_records_and_keeps_the_rest_exact(
        self, student, dashboard_admin, add_assessment, algebra, mechanics
    ):
        add_assessment(student, 70, concept_modules=[algebra, mechanics])
        algebra_id = algebra.pk

        services.delete_module(actor=dashboard_admin, module=algebra)

        assert self.record(student, scope="concept", concept_module=mechanics).count == 1
        assert not PerformanceRecord.objects.filter(concept_module_id=algebra_id).exists()
        assert performance.differences() == []
