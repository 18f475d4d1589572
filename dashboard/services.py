"""Every write of the dashboard: the API, the admin and the commands call these, so each
write is validated, audited (veritas/audit.py) and keeps performance exact
(dashboard/performance.py) the same way whichever door it came through.

Validation errors are Django ``ValidationError``s keyed by field (the API answers them 400,
the admin shows them on the form); a draft moved where it may not go raises
``TransitionNotAllowed`` (409); acting on what one may not is ``PermissionDenied`` (403).
Callers check *visibility* (a 404) before calling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from dashboard import performance
from dashboard.models import (
    AssessmentLog,
    Cohort,
    ConceptModule,
    Draft,
    DraftStatus,
    DraftVersion,
    Student,
    is_dashboard_admin,
)
from veritas import audit

STUDENT_FIELDS = ["external_id", "name", "email", "user", "is_active"]
COHORT_FIELDS = ["name", "term", "staff", "students"]
MODULE_FIELDS = ["subject", "code", "name", "order", "description", "prerequisites"]
ASSESSMENT_FIELDS = ["kind", "subject", "concept_modules", "score", "max_score", "taken_at", "comment"]


# --- students ----------------------------------------------------------------------------------


def may_create_student(actor, cohorts: Iterable[Cohort]) -> bool:
    """Holders of ``add_student``; staff, into cohorts they all teach."""
    if is_dashboard_admin(actor, "add"):
        return True
    cohorts = list(cohorts)
    return bool(cohorts) and all(cohort.staff.filter(pk=actor.pk).exists() for cohort in cohorts)


@transaction.atomic
def create_student(*, actor, data: Mapping[str, Any], cohorts: Iterable[Cohort] = ()) -> Student:
    cohorts = list(cohorts)
    if not may_create_student(actor, cohorts):
        raise PermissionDenied("Creating a student needs the dashboard.add_student permission or a cohort you teach.")
    if data.get("user") is not None and not is_dashboard_admin(actor, "change"):
        # As in update_student: whoever is linked sees the record as their own.
        raise PermissionDenied("Linking a student to a login needs the dashboard.change_student permission.")
    student = Student()
    audit.save(student, audit.assign(student, data, STUDENT_FIELDS))
    for cohort in cohorts:
        cohort.students.add(student)
    audit.record(
        "create",
        actor=actor,
        obj=student,
        changes={"after": {**audit.snapshot(student, STUDENT_FIELDS), "cohorts": [c.pk for c in cohorts]}},
        scope=student,
    )
    return student


def _require_teaching(actor, student: Student) -> None:
    if not Student.objects.taught_by(actor).filter(pk=student.pk).exists():
        raise PermissionDenied("Only the staff of the student's cohorts (or dashboard.change_student) may do this.")


@transaction.atomic
def update_student(*, actor, student: Student, data: Mapping[str, Any]) -> Student:
    _require_teaching(actor, student)
    if "user" in data and not is_dashboard_admin(actor, "change"):
        raise PermissionDenied("Linking a student to a login needs the dashboard.change_student permission.")
    return audit.write(actor=actor, instance=student, data=data, fields=STUDENT_FIELDS, scope=student)


@transaction.atomic
def delete_student(*, actor, student: Student) -> None:
    if not is_dashboard_admin(actor, "delete"):
        raise PermissionDenied("Deleting a student needs the dashboard.delete_student permission.")
    before = {**audit.snapshot(student, STUDENT_FIELDS), "assessments": student.assessments.count()}
    audit.record("delete", actor=actor, obj=student, changes={"before": before}, scope=student)
    student.delete()  # assessments, records and drafts go with it


# --- cohorts and concept modules (administrators) -----------------------------------------------


def _require_admin(actor, action: str, model: str) -> None:
    if not is_dashboard_admin(actor, action, model):
        raise PermissionDenied(f"Missing permission: dashboard.{action}_{model}.")


@transaction.atomic
def save_cohort(*, actor, data: Mapping[str, Any], cohort: Cohort | None = None) -> Cohort:
    _require_admin(actor, "add" if cohort is None else "change", "cohort")
    return audit.write(actor=actor, instance=cohort or Cohort(), data=data, fields=COHORT_FIELDS)


@transaction.atomic
def delete_cohort(*, actor, cohort: Cohort) -> None:
    _require_admin(actor, "delete", "cohort")
    audit.delete(actor=actor, instance=cohort, fields=COHORT_FIELDS)


def prerequisite_cycle(module: ConceptModule, prerequisites: Iterable[ConceptModule]) -> list[str] | None:
    """The codes along the cycle that giving ``module`` these prerequisites would close
    (``[module, …, module]``), or None. Reads the prerequisite edges once (the catalogue is
    small) and searches for a path from a new prerequisite back to the module."""
    if any(p.pk is not None and p.pk == module.pk for p in prerequisites):
        return [module.code, module.code]
    if module.pk is None:
        return None  # a new module: nothing requires it yet
    edges: dict[int, list[int]] = {}
    for source, target in ConceptModule.prerequisites.through.objects.exclude(
        from_conceptmodule_id=module.pk
    ).values_list("from_conceptmodule_id", "to_conceptmodule_id"):
        edges.setdefault(source, []).append(target)
    codes = dict(ConceptModule.objects.values_list("pk", "code"))
    seen: set[int] = set()
    for start in prerequisites:
        stack = [(start.pk, [start.pk])]
        while stack:
            current, path = stack.pop()
            if current == module.pk:
                return [module.code, *(codes[pk] for pk in path)]
            if current in seen:
                continue
            seen.add(current)
            stack.extend((following, [*path, following]) for following in edges.get(current, ()))
    return None


def _refuse_cycles(module: ConceptModule, many: Mapping[str, list]) -> None:
    if "prerequisites" in many and (cycle := prerequisite_cycle(module, many["prerequisites"])):
        raise ValidationError({"prerequisites": [f"This would make a cycle of prerequisites: {' → '.join(cycle)}."]})


@transaction.atomic
def save_module(*, actor, data: Mapping[str, Any], module: ConceptModule | None = None) -> ConceptModule:
    _require_admin(actor, "add" if module is None else "change", "conceptmodule")
    return audit.write(
        actor=actor, instance=module or ConceptModule(), data=data, fields=MODULE_FIELDS, check=_refuse_cycles
    )


@transaction.atomic
def delete_module(*, actor, module: ConceptModule) -> None:
    _require_admin(actor, "delete", "conceptmodule")
    audit.delete(actor=actor, instance=module, fields=MODULE_FIELDS)  # its performance records go with it


# --- assessments --------------------------------------------------------------------------------


def _touch(touched: performance.Touched, assessment: AssessmentLog, module_ids: Iterable[int]) -> None:
    touched.add(assessment.student_id, assessment.subject, module_ids)


@transaction.atomic
def record_assessment(*, actor, student: Student, data: Mapping[str, Any]) -> AssessmentLog:
    """``add_assessment``: one assessment, the student's records updated."""
    _require_teaching(actor, student)
    assessment = AssessmentLog(student=student, recorded_by=actor if actor and actor.is_authenticated else None)
    many = audit.assign(assessment, data, ASSESSMENT_FIELDS)
    audit.save(assessment, many)
    performance.merge_inserted([assessment.pk], students=[student.pk])
    audit.record(
        "create",
        actor=actor,
        obj=assessment,
        changes={"after": audit.snapshot(assessment, ASSESSMENT_FIELDS)},
        scope=student,
    )
    return assessment


@transaction.atomic
def correct_assessment(*, actor, assessment: AssessmentLog, data: Mapping[str, Any]) -> AssessmentLog:
    """A correction (a wrong score, subject, date…): audited with before and after."""
    _require_teaching(actor, assessment.student)
    before = audit.snapshot(assessment, ASSESSMENT_FIELDS)
    touched = performance.Touched()
    _touch(touched, assessment, before["concept_modules"])
    many = audit.assign(assessment, data, ASSESSMENT_FIELDS)
    audit.save(assessment, many)
    after = audit.snapshot(assessment, ASSESSMENT_FIELDS)
    _touch(touched, assessment, after["concept_modules"])
    performance.refresh(touched)
    changes = audit.diff(before, after)
    if changes["after"]:
        audit.record("update", actor=actor, obj=assessment, changes=changes, scope=assessment.student)
    return assessment


@transaction.atomic
def delete_assessment(*, actor, assessment: AssessmentLog) -> None:
    _require_teaching(actor, assessment.student)
    before = audit.snapshot(assessment, ASSESSMENT_FIELDS)
    touched = performance.Touched()
    _touch(touched, assessment, before["concept_modules"])
    audit.record("delete", actor=actor, obj=assessment, changes={"before": before}, scope=assessment.student)
    assessment.delete()
    performance.refresh(touched)


# --- drafts -------------------------------------------------------------------------------------


class TransitionNotAllowed(Exception):
    """A draft cannot go from its status to the one asked for."""

    def __init__(self, draft: Draft, target: str):
        self.current, self.target, self.allowed = draft.status, target, draft.allowed_transitions()
        allowed = ", ".join(self.allowed) or "none: it is final"
        super().__init__(f"A draft that is {draft.get_status_display()} cannot become {target}; allowed: {allowed}.")


def _require_owner(actor, draft_or_student) -> None:
    student = draft_or_student if isinstance(draft_or_student, Student) else draft_or_student.student
    if student.user_id is None or student.user_id != actor.pk:
        raise PermissionDenied("Only the student who owns the draft may do this.")


def _require_reviewer(actor, draft: Draft) -> None:
    if not (
        is_dashboard_admin(actor, "change", "draft")
        or Student.objects.taught_by(actor).filter(pk=draft.student_id).exists()
    ):
        raise PermissionDenied("Only the staff of the student's cohorts (or dashboard.change_draft) may review drafts.")


def _move(draft: Draft, target: str) -> None:
    if target not in draft.allowed_transitions():
        raise TransitionNotAllowed(draft, target)
    draft.status = target


def word_count(text: str) -> int:
    return len(text.split())


@transaction.atomic
def create_draft(*, actor, student: Student, title: str, body: str = "") -> Draft:
    _require_owner(actor, student)
    draft = Draft(student=student, title=title, body=body)
    draft.full_clean()
    draft.save()
    audit.record(
        "create", actor=actor, obj=draft, changes={"after": {"title": title, "words": word_count(body)}}, scope=student
    )
    return draft


@transaction.atomic
def edit_draft(*, actor, draft: Draft, data: Mapping[str, Any]) -> Draft:
    _require_owner(actor, draft)
    # The row as it is now (locked): a copy read before a submission or a review must
    # neither pass the status check nor write its stale status and feedback back.
    draft.refresh_from_db(from_queryset=Draft.objects.select_for_update())
    if draft.status not in Draft.EDITABLE:
        raise TransitionNotAllowed(draft, DraftStatus.DRAFT)
    before = {"title": draft.title, "words": word_count(draft.body)}
    for name in ("title", "body"):
        if name in data:
            setattr(draft, name, data[name])
    draft.full_clean()
    draft.save(update_fields=["title", "body", "updated_at"])
    changes = audit.diff(before, {"title": draft.title, "words": word_count(draft.body)})
    audit.record("update", actor=actor, obj=draft, changes=changes, scope=draft.student)
    return draft


def _transition(draft: Draft, actor, target: str, verb: str, **extra: Any) -> Draft:
    before = draft.status
    _move(draft, target)
    draft.save()
    audit.record(
        verb,
        actor=actor,
        obj=draft,
        changes={"before": {"status": before}, "after": {"status": target, **extra}},
        scope=draft.student,
    )
    return draft


@transaction.atomic
def submit_draft(*, actor, draft: Draft) -> Draft:
    """The owner submits: a version row keeps the body as submitted."""
    _require_owner(actor, draft)
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    now = timezone.now()
    _move(draft, DraftStatus.SUBMITTED)
    draft.submitted_at = now
    number = draft.versions.count() + 1
    DraftVersion.objects.create(
        draft=draft,
        number=number,
        title=draft.title,
        body=draft.body,
        word_count=word_count(draft.body),
        submitted_at=now,
    )
    draft.save()
    audit.record(
        "submit",
        actor=actor,
        obj=draft,
        changes={"after": {"status": DraftStatus.SUBMITTED, "version": number}},
        scope=draft.student,
    )
    return draft


@transaction.atomic
def start_review(*, actor, draft: Draft) -> Draft:
    _require_reviewer(actor, draft)
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    draft.reviewer = actor
    return _transition(draft, actor, DraftStatus.IN_REVIEW, "start_review")


@transaction.atomic
def return_draft(*, actor, draft: Draft, feedback: str) -> Draft:
    _require_reviewer(actor, draft)
    if not feedback.strip():
        raise ValidationError({"feedback": ["Say what to change: returning a draft needs feedback."]})
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    draft.feedback, draft.reviewer, draft.reviewed_at = feedback, actor, timezone.now()
    return _transition(draft, actor, DraftStatus.RETURNED, "return", feedback=feedback)


@transaction.atomic
def accept_draft(*, actor, draft: Draft, feedback: str = "") -> Draft:
    _require_reviewer(actor, draft)
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    draft.reviewer, draft.reviewed_at = actor, timezone.now()
    if feedback:
        draft.feedback = feedback
    return _transition(draft, actor, DraftStatus.ACCEPTED, "accept")
