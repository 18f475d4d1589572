"""Energy loss of interfaces under a factor model, set-based in SQL, against the legacy engine's
formula (a Python loop over each interface's factor values) on hand-made cases; the database
constraints of factors, values and models."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from frames.models import (
    FactorModel,
    Interface,
    InterfaceFactorValue,
    ModelFactor,
    Project,
    RiskFactor,
    level,
)
from tests.frames.conftest import link

pytestmark = pytest.mark.django_db


def assign(interface, *values) -> None:
    for value in values:
        InterfaceFactorValue.objects.create(interface=interface, factor=value.factor, value=value)


def legacy_loss(interface, model) -> Decimal:
    """The legacy engine's loop, restricted to the model's enabled factors as this issue defines it."""
    weights = {w.factor_id: w.weight for w in ModelFactor.objects.filter(model=model, enabled=True)}
    total = Decimal(0)
    for row in InterfaceFactorValue.objects.filter(interface=interface, ended_at__isnull=True).select_related("value"):
        if row.factor_id in weights:
            total += row.value.contribution * weights[row.factor_id]
    return min(Decimal(1), total)


def loss_of(interface, model) -> tuple[Decimal, str]:
    found = Interface.objects.with_loss(model).get(pk=interface.pk)
    return found.loss, found.level


@pytest.mark.parametrize(
    ("values", "loss", "expected_level"),
    [
        ([], "0", "low"),
        ([("knowledge_type", "codified"), ("bond_strength", "strong")], "0.15", "moderate"),  # the floor is moderate's
        ([("knowledge_type", "codified"), ("bond_strength", "moderate")], "0.30", "moderate"),
        ([("knowledge_type", "codified"), ("bond_strength", "weak")], "0.45", "high"),
        (
            [
                ("knowledge_type", "codified"),
                ("bond_strength", "strong"),
                ("temporal_alignment", "aligned"),
                ("actor_autonomy", "high"),
            ],
            "0.35",
            "high",
        ),
        ([("knowledge_type", "institutional"), ("bond_strength", "moderate")], "0.60", "critical"),
        ([("knowledge_type", "institutional"), ("bond_strength", "weak")], "0.75", "critical"),
        (
            [
                ("knowledge_type", "institutional"),
                ("bond_strength", "weak"),
                ("temporal_alignment", "misaligned"),
                ("actor_autonomy", "high"),
            ],
            "1",
            "critical",  # 1.15, capped
        ),
    ],
)
def test_the_baseline_sums_contributions_caps_at_one_and_levels_like_the_legacy_engine(
    team, other_team, baseline, value, values, loss, expected_level
):
    interface = link(team, other_team)
    assign(interface, *(value(factor, name) for factor, name in values))

    found, found_level = loss_of(interface, baseline)

    assert found == Decimal(loss) == legacy_loss(interface, baseline)
    assert found_level == expected_level == level(found)


def test_weights_scale_and_a_disabled_or_absent_factor_does_not_count(team, other_team, baseline, value):
    model = FactorModel.objects.create(name="weighted", display_name="Weighted")
    factors = {f.name: f for f in RiskFactor.objects.all()}
    ModelFactor.objects.create(model=model, factor=factors["knowledge_type"], weight=Decimal("1.5"))
    ModelFactor.objects.create(model=model, factor=factors["bond_strength"], weight=Decimal("0.5"))
    ModelFactor.objects.create(model=model, factor=factors["temporal_alignment"], weight=2, enabled=False)
    interface = link(team, other_team)
    assign(
        interface,
        value("knowledge_type", "institutional"),
        value("bond_strength", "weak"),
        value("temporal_alignment", "misaligned"),
        value("actor_autonomy", "high"),
    )

    # The legacy worked example: 0.40 x 1.5 + 0.35 x 0.5; temporal alignment disabled, actor
    # autonomy not in the model.
    assert loss_of(interface, model) == (Decimal("0.775"), "critical") and legacy_loss(interface, model) == Decimal(
        "0.775"
    )
    assert loss_of(interface, baseline)[0] == 1


def test_only_the_current_value_counts_and_the_history_stays(team, other_team, baseline, value):
    interface = link(team, other_team)
    assign(interface, value("bond_strength", "weak"))
    InterfaceFactorValue.objects.filter(interface=interface).update(ended_at=timezone.now())
    assign(interface, value("bond_strength", "strong"))

    assert loss_of(interface, baseline) == (Decimal("0.05"), "low")
    assert interface.factor_values.count() == 2


def test_every_interface_comes_back_once_whatever_the_number_of_models(team, other_team, baseline, value):
    FactorModel.objects.create(name="other", display_name="Other")
    interfaces = [link(team, other_team, interface_type=kind) for kind in ("concurrent", "external")]
    assign(interfaces[0], value("bond_strength", "weak"), value("knowledge_type", "codified"))

    rows = list(Interface.objects.with_loss(baseline).order_by("pk").values_list("pk", "loss", "level"))

    assert rows == [(interfaces[0].pk, Decimal("0.45"), "high"), (interfaces[1].pk, Decimal(0), "low")]


def test_the_cross_university_flag_follows_the_ends(team, other_team, university):
    assert link(team, other_team).cross_university is True
    same = link(team, Project.objects.create(university=university, name="CubeSat"), "external")
    consortium = link(team, Project.objects.create(name="PROVES", is_collaborative=True), "external")
    same.refresh_from_db()
    consortium.refresh_from_db()
    assert (same.cross_university, consortium.cross_university) == (False, False)


def constraint_violated(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def test_the_database_refuses_what_the_rules_forbid(team, other_team, baseline, value):
    factor = RiskFactor.objects.get(name="bond_strength")
    interface = link(team, other_team)
    assign(interface, value("bond_strength", "weak"))

    assert FactorModel.objects.filter(is_active=True).count() == 1
    assert constraint_violated(lambda: FactorModel.objects.create(name="second", display_name="x", is_active=True))
    assert constraint_violated(
        lambda: ModelFactor.objects.filter(model=baseline, factor=factor).update(weight=Decimal("2.001"))
    )
    assert constraint_violated(lambda: ModelFactor.objects.filter(model=baseline, factor=factor).update(weight=-1))
    assert constraint_violated(lambda: factor.values.filter(name="weak").update(contribution=Decimal("1.0001")))
    assert constraint_violated(lambda: assign(interface, value("bond_strength", "strong")))  # two current values
    # A value of another factor than the row's.
    assert constraint_violated(
        lambda: InterfaceFactorValue.objects.create(
            interface=interface,
            factor=RiskFactor.objects.get(name="knowledge_type"),
            value=value("bond_strength", "weak"),
        )
    )
    assert constraint_violated(lambda: link(team, team))
    assert constraint_violated(lambda: Interface.objects.filter(pk=interface.pk).update(cross_university=False))
