"""The writes: factor values keep their history, one active model, validation status and
validation runs, advance_term; each audited, each refused to whom it does not belong."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from frames import selectors, services
from frames.models import (
    Departure,
    FactorModel,
    InterfaceFactorValue,
    ModelValidation,
    Outcome,
    Project,
    Student,
    Team,
)
from tests.frames.conftest import link
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


def test_a_new_value_ends_the_current_one_and_is_audited(faculty, team, other_team, value):
    interface = link(team, other_team, "external")
    services.assign_factor_value(actor=faculty, interface=interface, value=value("bond_strength", "weak"))

    services.assign_factor_value(actor=faculty, interface=interface, value=value("bond_strength", "strong"))

    rows = list(InterfaceFactorValue.objects.order_by("assigned_at").values_list("value__name", "ended_at"))
    assert [name for name, _ in rows] == ["weak", "strong"] and rows[0][1] is not None and rows[1][1] is None
    entry = ActionLog.objects.filter(verb="assign factor value").order_by("-id").first()
    assert entry.changes == {"before": {"bond_strength": "weak"}, "after": {"bond_strength": "strong"}}
    assert (entry.actor_id, entry.object_type, entry.object_id) == (faculty.pk, "frames.interface", str(interface.pk))


def test_either_end_may_write_a_cross_university_interface_and_no_one_else(
    faculty, other_faculty, make_user, team, other_team, university, value
):
    interface = link(team, other_team, "external")
    services.assign_factor_value(actor=other_faculty, interface=interface, value=value("bond_strength", "weak"))
    internal = link(team, Project.objects.create(university=university, name="CubeSat"))

    with pytest.raises(PermissionDenied):
        services.assign_factor_value(actor=other_faculty, interface=internal, value=value("bond_strength", "weak"))
    with pytest.raises(PermissionDenied):
        services.assign_factor_value(
            actor=make_user("nobody"), interface=interface, value=value("bond_strength", "strong")
        )
    assert InterfaceFactorValue.objects.count() == 1


def test_activating_a_model_deactivates_the_other_and_only_researchers_may(researcher, faculty, baseline):
    model = FactorModel.objects.create(name="h2", display_name="Hypothesis 2")

    with pytest.raises(PermissionDenied):
        services.activate_model(actor=faculty, model=model)
    services.activate_model(actor=researcher, model=model)

    assert list(FactorModel.objects.filter(is_active=True)) == [model]
    entry = ActionLog.objects.get(verb="activate")
    assert entry.changes == {"before": {"active model": "baseline_v1"}, "after": {"active model": "h2"}}


def test_a_validation_status_is_a_researchers_audited_judgement(researcher, faculty, baseline):
    with pytest.raises(PermissionDenied):
        services.set_validation_status(actor=faculty, model=baseline, status="validated")

    services.set_validation_status(actor=researcher, model=baseline, status="rejected")

    assert FactorModel.objects.get(pk=baseline.pk).validation_status == "rejected"
    entry = ActionLog.objects.get(verb="update", object_type="frames.factormodel")
    assert entry.changes == {"before": {"validation_status": "testing"}, "after": {"validation_status": "rejected"}}


def test_advance_term_moves_everyone_on_and_graduates_the_last_term_recording_who_left(
    faculty, university, team, other_team
):
    students = {
        terms: Student.objects.create(
            university=university, name=f"s{terms}", team=team, terms_remaining=terms, is_lead=terms == 1
        )
        for terms in (4, 3, 2, 1)
    }
    elsewhere = Student.objects.create(university=other_team.university, name="x", team=other_team, terms_remaining=1)

    result = services.advance_term(actor=faculty, university=university)

    assert (result.advanced, result.graduated) == (4, 1)
    after = {terms: Student.objects.get(pk=s.pk) for terms, s in students.items()}
    assert [(s.terms_remaining, s.status, s.active) for s in after.values()] == [
        (3, "established", True),
        (2, "established", True),
        (1, "outgoing", True),
        (0, "outgoing", False),
    ]
    assert after[1].graduated_at is not None and after[1].is_lead is False
    departure = Departure.objects.get()
    assert (departure.student_id, departure.team_id, departure.was_lead) == (students[1].pk, team.pk, True)
    assert Student.objects.get(pk=elsewhere.pk).terms_remaining == 1
    entry = ActionLog.objects.get(verb="advance term")
    assert entry.changes == {"counts": {"advanced": 4, "graduated": 1}}


def test_advance_term_belongs_to_the_universitys_faculty(other_faculty, university):
    with pytest.raises(PermissionDenied):
        services.advance_term(actor=other_faculty, university=university)
    assert not ActionLog.objects.exists()


def test_continuity_flags_an_outgoing_lead_without_an_established_successor(university, team):
    Student.objects.create(university=university, name="Lead", team=team, terms_remaining=1, is_lead=True)
    Student.objects.create(university=university, name="New", team=team, terms_remaining=4)
    at_risk = selectors.team_continuity(team)
    Student.objects.create(university=university, name="Mid", team=team, terms_remaining=2)
    covered = selectors.team_continuity(team)

    assert (at_risk.members, at_risk.outgoing, at_risk.outgoing_share, at_risk.lead_at_risk) == (2, 1, 0.5, True)
    assert covered.lead_at_risk is False and [s.name for s in covered.successors] == ["Mid"]


def test_validation_reports_known_metrics_and_stores_a_row_per_outcome(researcher, university, baseline, value):
    # Four projects with one team each; a team's interface to the project carries its risk.
    risks = {
        "p1": ("institutional", "weak"),
        "p2": ("institutional", "moderate"),
        "p3": ("codified", "moderate"),
        "p4": ("codified", "strong"),
    }  # 0.75, 0.60, 0.30, 0.15
    success = {"p1": False, "p2": True, "p3": False, "p4": True}
    for name, (knowledge, bond) in risks.items():
        project = Project.objects.create(university=university, name=name)
        squad = Team.objects.create(university=university, project=project, name=f"team {name}")
        interface = link(squad, project)
        for v in (value("knowledge_type", knowledge), value("bond_strength", bond)):
            InterfaceFactorValue.objects.create(interface=interface, factor=v.factor, value=v)
        Outcome.objects.create(
            university=university,
            project=project,
            outcome_type="mission_success",
            success=success[name],
            cohort_year=2024,
        )
    Outcome.objects.create(university=university, outcome_type="program_success", success=True)  # no project

    report = services.validate_model(actor=researcher, model=baseline, threshold=Decimal("0.5"))

    # Failures at 0.75 and 0.30, successes at 0.60 and 0.15: of the 4 failure/success pairs, 3
    # rank the failure higher (AUC 0.75); Brier = (0.25^2 + 0.6^2 + 0.7^2 + 0.15^2) / 4.
    assert (report.n, report.failures) == (4, 2)
    assert report.roc_auc == pytest.approx(0.75)
    assert report.brier == pytest.approx((0.25**2 + 0.6**2 + 0.7**2 + 0.15**2) / 4)
    assert report.accuracy == pytest.approx(0.5)  # 0.75 and 0.15 right, 0.60 and 0.30 wrong
    assert "Too little data to conclude" in report.warning and "1 outcomes were left out" in report.warning
    rows = ModelValidation.objects.filter(run=report.run)
    assert rows.count() == 4 and {r.actual_loss for r in rows} == {True, False}
    assert ActionLog.objects.get(verb="validate").changes["after"]["n"] == 4
