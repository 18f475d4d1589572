"""Every write of FRAMES: the API, the admin and the commands call these, so each write is
checked, audited (veritas/audit.py) and done the same way whichever door it came through.

Acting on what one may not is ``PermissionDenied`` (403); callers check *visibility* (a 404)
before calling. Bad values are Django ``ValidationError``s keyed by field (400).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from frames import selectors
from frames.models import (
    ENTITY_MODELS,
    Departure,
    FactorModel,
    FactorValue,
    Faculty,
    Interface,
    InterfaceFactorValue,
    ModelFactor,
    ModelValidation,
    Outcome,
    Project,
    RiskFactor,
    Student,
    Team,
    University,
    faculty_university_id,
    is_researcher,
    status_of_terms,
)
from veritas import audit

# --- who may write -----------------------------------------------------------------------------


def may_write_university(actor, university_id: int | None) -> bool:
    """Researchers anywhere; faculty at their own university."""
    return is_researcher(actor) or (university_id is not None and faculty_university_id(actor) == university_id)


def may_write_interface(actor, interface: Interface) -> bool:
    """Faculty at either end's university (a cross-university interface belongs to both)."""
    return is_researcher(actor) or faculty_university_id(actor) in {
        interface.from_university_id,
        interface.to_university_id,
    } - {None}


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


# --- the consortium's records -------------------------------------------------------------------

PROJECT_FIELDS = ["university", "name", "type", "is_collaborative", "duration_months"]
TEAM_FIELDS = ["university", "project", "name", "discipline"]
STUDENT_FIELDS = ["university", "name", "team", "expertise_area", "graduation_term", "terms_remaining", "is_lead"]
OUTCOME_FIELDS = ["university", "project", "outcome_type", "success", "cohort_year", "notes"]
FACTOR_FIELDS = ["name", "display_name", "description", "category", "confidence", "active"]
VALUE_FIELDS = ["factor", "name", "display_name", "description", "contribution", "order"]
MODEL_FIELDS = ["name", "display_name", "hypothesis"]


def _university_of(value) -> int | None:
    return getattr(value, "pk", value)


def _require_university(actor, instance, data: Mapping[str, Any]) -> None:
    """The row's university must be the actor's to write (a row of no university, a
    consortium project, is the researchers'). A row stays at its university: its interfaces,
    members and links were scoped by it (moving one is a 400 naming ``university``)."""
    if instance.pk is None:
        university = _university_of(data.get("university"))
    else:
        university = instance.university_id
        if "university" in data and _university_of(data["university"]) != university:
            raise ValidationError({"university": ["A record stays at its university: create it anew at the other."]})
    if university is None:
        _require(is_researcher(actor), "Only researchers may write the consortium's own projects.")
    else:
        _require(may_write_university(actor, university), "Only the university's faculty, or researchers, may.")


def _same_university(field: str):
    """A check that the related row named by ``field`` belongs to the instance's university."""

    def check(instance, many) -> None:
        related = getattr(instance, field)
        if related is not None and getattr(related, "university_id", None) not in (None, instance.university_id):
            raise ValidationError({field: [f"This {field} belongs to another university."]})

    return check


@transaction.atomic
def save_project(*, actor, data: Mapping[str, Any], project: Project | None = None) -> Project:
    project = project or Project()
    _require_university(actor, project, data)
    return audit.write(actor=actor, instance=project, data=data, fields=PROJECT_FIELDS)


@transaction.atomic
def save_team(*, actor, data: Mapping[str, Any], team: Team | None = None) -> Team:
    team = team or Team()
    _require_university(actor, team, data)
    return audit.write(actor=actor, instance=team, data=data, fields=TEAM_FIELDS, check=_same_university("project"))


@transaction.atomic
def save_student(*, actor, data: Mapping[str, Any], student: Student | None = None) -> Student:
    """A student record (its status follows from the terms remaining). Leading a team another
    active student leads is a 400 naming ``is_lead``."""
    student = student or Student()
    _require_university(actor, student, data)

    def check(instance, many) -> None:
        _same_university("team")(instance, many)
        if instance.is_lead and instance.active:
            if instance.team_id is None:
                raise ValidationError({"is_lead": ["Only a team member can lead: give the student a team."]})
            Team.objects.select_for_update().filter(pk=instance.team_id).first()  # one lead check at a time per team
            other = Student.objects.filter(team_id=instance.team_id, is_lead=True, active=True).exclude(pk=instance.pk)
            if lead := other.first():
                raise ValidationError({"is_lead": [f"The team already has a lead: {lead.name} (id {lead.pk})."]})

    return audit.write(actor=actor, instance=student, data=data, fields=STUDENT_FIELDS, check=check)


@transaction.atomic
def save_outcome(*, actor, data: Mapping[str, Any], outcome: Outcome | None = None) -> Outcome:
    outcome = outcome or Outcome()
    _require_university(actor, outcome, data)
    return audit.write(
        actor=actor, instance=outcome, data=data, fields=OUTCOME_FIELDS, check=_same_university("project")
    )


REMOVABLE = {Project: PROJECT_FIELDS, Team: TEAM_FIELDS, Student: STUDENT_FIELDS, Outcome: OUTCOME_FIELDS}


class Conflict(Exception):
    """The records' state does not allow it (409); the message says why."""


@transaction.atomic
def delete(*, actor, instance) -> None:
    """Delete a project, team, student or outcome of the actor's university, recorded with
    what went with it: the interfaces whose end it was (and their factor-value history). A
    deleted project's teams and outcomes lose their project; a deleted team's members their
    team (and its lead the lead). An outcome a model was validated against is kept (a
    Conflict): deleting it would rewrite past validation runs."""
    fields = REMOVABLE[type(instance)]
    _require_university(actor, instance, {})
    if isinstance(instance, Outcome) and instance.validations.exists():
        raise Conflict(f"Outcome {instance.pk} is part of {instance.validations.count()} model validation rows.")
    changes = {"before": audit.snapshot(instance, fields)}
    kind = {model: kind for kind, model in ENTITY_MODELS.items()}.get(type(instance))
    if kind is not None:  # interfaces name their ends by kind and id: no foreign key to cascade
        ends = Interface.objects.filter(Q(from_kind=kind, from_id=instance.pk) | Q(to_kind=kind, to_id=instance.pk))
        changes["interfaces deleted"] = sorted(ends.values_list("pk", flat=True))
        ends.delete()
    if isinstance(instance, Team):
        changes["members left without a team"] = instance.members.update(is_lead=False)
    if isinstance(instance, Student):  # a batch of their events in flight commits first, or sees them gone
        instance.assignments.lock()
    audit.record("delete", actor=actor, obj=instance, changes=changes)
    instance.delete()


# --- interfaces ----------------------------------------------------------------------------------


@transaction.atomic
def create_interface(*, actor, data: Mapping[str, Any]) -> Interface:
    """An interface between two entities of the consortium; the actor must be faculty at one
    of its ends' universities (or a researcher), so faculty link their own teams, people and
    projects to another university's. Its ends' universities and the cross-university flag
    follow from the entities."""
    ends = {}
    for end in ("from", "to"):
        kind, pk = data[f"{end}_kind"], data[f"{end}_id"]
        ends[end] = ENTITY_MODELS[kind].objects.filter(pk=pk).first()
        if ends[end] is None:
            raise ValidationError({f"{end}_id": [f"No {kind} with id {pk}."]})
    if not any(ENTITY_MODELS[data[f"{end}_kind"]].objects.visible_to(actor).filter(pk=ends[end].pk) for end in ends):
        # Neither end is the actor's: answered as a missing one would be (no oracle of ids).
        raise ValidationError({"from_id": [f"No {data['from_kind']} with id {data['from_id']} at your university."]})
    interface = Interface.between(ends["from"], ends["to"], data["interface_type"], bond_type=data.get("bond_type", ""))
    _require(may_write_interface(actor, interface), "Only faculty at one of its ends, or researchers, may.")
    if interface.from_kind == interface.to_kind and interface.from_id == interface.to_id:
        raise ValidationError({"to_id": ["An interface links two different entities."]})
    duplicate = Interface.objects.filter(
        from_kind=interface.from_kind,
        from_id=interface.from_id,
        to_kind=interface.to_kind,
        to_id=interface.to_id,
        interface_type=interface.interface_type,
    )
    taken = ValidationError({"interface_type": ["These two entities already have an interface of this type."]})
    if duplicate.exists():
        raise taken
    try:
        with transaction.atomic():  # a concurrent twin that won the race: the same 400
            interface.save()
    except IntegrityError:
        raise taken from None
    audit.record("create", actor=actor, obj=interface, changes={"after": audit.snapshot(interface, INTERFACE_FIELDS)})
    return interface


INTERFACE_FIELDS = ["from_kind", "from_id", "to_kind", "to_id", "interface_type", "bond_type", "cross_university"]


@transaction.atomic
def delete_interface(*, actor, interface: Interface) -> None:
    _require(may_write_interface(actor, interface), "Only faculty at one of its ends, or researchers, may.")
    audit.delete(actor=actor, instance=interface, fields=INTERFACE_FIELDS)


# --- the consortium itself (researchers) ---------------------------------------------------------

UNIVERSITY_FIELDS = ["code", "name", "is_lead", "active"]
FACULTY_FIELDS = ["university", "user", "name", "role", "active"]


@transaction.atomic
def save_university(*, actor, data: Mapping[str, Any], university: University | None = None) -> University:
    _require(is_researcher(actor), "Only researchers manage the consortium's universities.")
    return audit.write(actor=actor, instance=university or University(), data=data, fields=UNIVERSITY_FIELDS)


@transaction.atomic
def save_faculty(*, actor, data: Mapping[str, Any], faculty: Faculty | None = None) -> Faculty:
    _require(is_researcher(actor), "Only researchers manage who is faculty where.")
    return audit.write(actor=actor, instance=faculty or Faculty(), data=data, fields=FACULTY_FIELDS)


# --- factors and models (researchers) ------------------------------------------------------------


@transaction.atomic
def save_factor(*, actor, data: Mapping[str, Any], factor: RiskFactor | None = None) -> RiskFactor:
    _require(is_researcher(actor), "Only researchers may manage risk factors.")
    return audit.write(actor=actor, instance=factor or RiskFactor(), data=data, fields=FACTOR_FIELDS)


@transaction.atomic
def save_factor_value(*, actor, data: Mapping[str, Any], value: FactorValue | None = None) -> FactorValue:
    _require(is_researcher(actor), "Only researchers may manage risk factors.")
    if value is not None and "factor" in data and data["factor"].pk != value.factor_id:
        raise ValidationError({"factor": ["A value stays with its factor: create a value of the other factor."]})
    return audit.write(actor=actor, instance=value or FactorValue(), data=data, fields=VALUE_FIELDS)


def _weight(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.001")))  # 1 and 1.000 are one weight


@transaction.atomic
def save_model(*, actor, data: Mapping[str, Any], model: FactorModel | None = None) -> FactorModel:
    """A factor model and, when ``weights`` are given, its whole list of factor weights
    (replaced). ``validation_status`` goes through set_validation_status (audited as such)."""
    _require(is_researcher(actor), "Only researchers may manage factor models.")
    model = audit.write(actor=actor, instance=model or FactorModel(), data=data, fields=MODEL_FIELDS)
    if "weights" in data:
        before = {w.factor.name: [_weight(w.weight), w.enabled] for w in model.weights.select_related("factor")}
        model.weights.all().delete()
        ModelFactor.objects.bulk_create(
            ModelFactor(model=model, factor=row["factor"], weight=row["weight"], enabled=row.get("enabled", True))
            for row in data["weights"]
        )
        after = {row["factor"].name: [_weight(row["weight"]), row.get("enabled", True)] for row in data["weights"]}
        if before != after:
            audit.record("update weights", actor=actor, obj=model, changes=audit.diff(before, after))
    if "validation_status" in data:
        set_validation_status(actor=actor, model=model, status=data["validation_status"])
    return model


# --- factor values and models ------------------------------------------------------------------


@transaction.atomic
def assign_factor_value(*, actor, interface: Interface, value: FactorValue) -> InterfaceFactorValue:
    """Give ``interface`` this value of its factor from now on; the value it had ends now (the
    history stays). Assigning the value it already has changes nothing."""
    _require(may_write_interface(actor, interface), "Only faculty at either end, or researchers, may change it.")
    Interface.objects.select_for_update().filter(pk=interface.pk).first()  # one assignment at a time per interface
    now = timezone.now()
    current = (
        InterfaceFactorValue.objects.select_for_update()
        .select_related("value")
        .filter(interface=interface, factor_id=value.factor_id, ended_at__isnull=True)
        .first()
    )
    if current is not None and current.value_id == value.pk:
        return current
    if current is not None:
        current.ended_at = now
        current.save(update_fields=["ended_at"])
    assigned = InterfaceFactorValue.objects.create(
        interface=interface, factor_id=value.factor_id, value=value, assigned_at=now
    )
    audit.record(
        "assign factor value",
        actor=actor,
        obj=interface,
        changes={
            "before": {value.factor.name: current.value.name if current else None},
            "after": {value.factor.name: value.name},
        },
    )
    return assigned


@transaction.atomic
def activate_model(*, actor, model: FactorModel) -> FactorModel:
    """Make ``model`` the one active model (the previous one stops being active)."""
    _require(is_researcher(actor), "Only researchers may change the active model.")
    previous = FactorModel.objects.select_for_update().filter(is_active=True).exclude(pk=model.pk).first()
    if previous is None and model.is_active:
        return model
    if previous is not None:
        FactorModel.objects.filter(pk=previous.pk).update(is_active=False)
    FactorModel.objects.filter(pk=model.pk).update(is_active=True)
    model.is_active = True
    audit.record(
        "activate",
        actor=actor,
        obj=model,
        changes={
            "before": {"active model": previous.name if previous else None},
            "after": {"active model": model.name},
        },
    )
    return model


@transaction.atomic
def set_validation_status(*, actor, model: FactorModel, status: str) -> FactorModel:
    """A researcher's judgement of a model: testing, validated or rejected."""
    _require(is_researcher(actor), "Only researchers may change a model's validation status.")
    if status not in FactorModel.ValidationStatus.values:
        raise ValidationError({"validation_status": [f"One of: {', '.join(FactorModel.ValidationStatus.values)}."]})
    if status == model.validation_status:
        return model
    before = model.validation_status
    model.validation_status = status
    model.save(update_fields=["validation_status"])
    audit.record(
        "update",
        actor=actor,
        obj=model,
        changes={"before": {"validation_status": before}, "after": {"validation_status": status}},
    )
    return model


# --- terms ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermAdvanced:
    advanced: int  # active students who move on a term
    graduated: int  # of whom reached their last term's end: inactive now, recorded as departures


@transaction.atomic
def advance_term(*, actor, university: University) -> TermAdvanced:
    """The university's term ends: every active student has a term fewer; those with none left
    graduate (inactive, ``graduated_at``, no longer a lead) and a Departure records which team
    each left. Three statements whatever the number of students, all or nothing, audited."""
    _require(may_write_university(actor, university.pk), "Only the university's faculty, or researchers, may.")
    now = timezone.now()
    students = Student.objects.filter(university=university, active=True)
    # Locked as read: a concurrent advance_term waits, then no longer finds them (graduated).
    leaving = students.select_for_update().filter(terms_remaining__lte=1)
    departures = Departure.objects.bulk_create(
        Departure(student_id=pk, team_id=team, university=university, left_at=now, was_lead=lead)
        for pk, team, lead in leaving.values_list("pk", "team_id", "is_lead")
    )
    graduates = Q(terms_remaining__lte=1)
    remaining = Case(When(graduates, then=Value(0)), default=F("terms_remaining") - 1)
    advanced = students.update(
        terms_remaining=remaining,
        status=status_of_terms(remaining),  # of the new count (an UPDATE reads the old values)
        active=Case(When(graduates, then=Value(False)), default=Value(True)),
        graduated_at=Case(When(graduates, then=Value(now)), default=None),
        is_lead=Case(When(graduates, then=Value(False)), default=F("is_lead")),
    )
    result = TermAdvanced(advanced=advanced, graduated=len(departures))
    audit.record(
        "advance term",
        actor=actor,
        obj=university,
        changes={"counts": {"advanced": advanced, "graduated": result.graduated}},
    )
    return result


# --- validation ----------------------------------------------------------------------------------

MIN_OUTCOMES = 30  # fewer outcomes than this, or fewer than MIN_PER_CLASS of either kind: no conclusion
MIN_PER_CLASS = 5


@dataclass(frozen=True)
class ValidationReport:
    run: uuid.UUID
    n: int
    failures: int
    roc_auc: float | None  # None when only one kind of outcome is present
    brier: float | None
    accuracy: float | None
    threshold: Decimal
    warning: str


@transaction.atomic
def validate_model(*, actor, model: FactorModel, threshold: Decimal = Decimal("0.35")) -> ValidationReport:
    """Predict each recorded outcome's project risk with ``model``, compare it with what
    happened (a failed outcome is knowledge lost), store a ModelValidation per outcome and
    report ROC AUC, Brier score, accuracy at ``threshold`` and n, with a warning when n is too
    small to conclude. Outcomes without a project, or whose project has no interfaces, are left
    out (and counted in the warning)."""
    _require(is_researcher(actor), "Only researchers may validate a model.")
    risks = selectors.project_risk(model)
    outcomes = list(Outcome.objects.order_by("pk"))
    usable = [o for o in outcomes if o.project_id in risks]
    run, now = uuid.uuid4(), timezone.now()
    ModelValidation.objects.bulk_create(
        ModelValidation(
            model=model,
            outcome=o,
            run=run,
            predicted_risk=risks[o.project_id],
            actual_loss=not o.success,
            validated_at=now,
        )
        for o in usable
    )
    predicted = [float(risks[o.project_id]) for o in usable]
    actual = [int(not o.success) for o in usable]
    report = _metrics(run, predicted, actual, threshold, left_out=len(outcomes) - len(usable))
    audit.record(
        "validate",
        actor=actor,
        obj=model,
        changes={"after": {"run": str(run), "n": report.n, "roc_auc": report.roc_auc, "brier": report.brier}},
    )
    return report


def _metrics(run, predicted: list[float], actual: list[int], threshold: Decimal, *, left_out: int) -> ValidationReport:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    n, failures = len(actual), sum(actual)
    both = 0 < failures < n
    roc_auc = float(roc_auc_score(actual, predicted)) if both else None
    brier = float(brier_score_loss(actual, predicted)) if n else None
    accuracy = (
        sum((p >= float(threshold)) == bool(a) for p, a in zip(predicted, actual, strict=True)) / n if n else None
    )
    problems = []
    if n < MIN_OUTCOMES:
        problems.append(f"only {n} outcomes (at least {MIN_OUTCOMES} are needed)")
    if min(failures, n - failures) < MIN_PER_CLASS:
        problems.append(
            f"{failures} failures and {n - failures} successes (at least {MIN_PER_CLASS} of each are needed)"
        )
    warning = f"Too little data to conclude: {'; '.join(problems)}." if problems else ""
    if left_out:
        warning = f"{warning} {left_out} outcomes were left out (no project, or a project without interfaces).".strip()
    return ValidationReport(run, n, failures, roc_auc, brier, accuracy, threshold, warning)
