"""FRAMES (issue 11): energy loss.

1. The energy loss and level of 10,000 interfaces, each with a current value of 10 factors,
   under a model weighing the 10 (``Interface.objects.with_loss``: one aggregate in SQL) against
   the legacy approach (energy_engine.py's ``calculate_network_energy``: a Python loop that
   reads each interface's factor values with their contributions, and the model's weights, one
   query each per interface, then sums, caps and levels in Python) - target: <= 1/10 of its
   time, and identical numbers (checked outside the timing).

The frames research tables are emptied and refilled at the start of each run, in the benchmark
database only.
"""

from __future__ import annotations

import random
from decimal import Decimal

from frames import models as frames
from frames.models import (
    FactorModel,
    FactorValue,
    Interface,
    InterfaceFactorValue,
    ModelFactor,
    RiskFactor,
    Team,
    University,
)

INTERFACES = 10_000
FACTORS = 10
CONTRIBUTIONS = [(0, 0), (5, 25), (40, 110)]


def empty() -> None:
    InterfaceFactorValue.objects.all().delete()
    Interface.objects.all().delete()
    Team.objects.all().delete()
    FactorModel.objects.filter(name="bench").delete()
    FactorValue.objects.filter(factor__name__startswith="bench_").delete()
    RiskFactor.objects.filter(name__startswith="bench_").delete()
    University.objects.all().delete()


def fill(rng: random.Random) -> FactorModel:
    universities = [University.objects.create(code=f"u{i}", name=f"University {i}") for i in range(8)]
    teams = Team.objects.bulk_create(Team(university=universities[i % 8], name=f"team {i}") for i in range(200))
    factors = [
        RiskFactor.objects.create(name=f"bench_{i}", display_name=f"Bench {i}", category="Interface_Property")
        for i in range(FACTORS)
    ]
    # Per factor: a harmless value, a mild one and a costly one (thousandths).
    values = {
        factor.pk: FactorValue.objects.bulk_create(
            FactorValue(factor=factor, name=f"v{j}", display_name=f"v{j}", contribution=Decimal(rng.randint(*r)) / 1000)
            for j, r in enumerate(CONTRIBUTIONS)
        )
        for factor in factors
    }
    model = FactorModel.objects.create(name="bench", display_name="Bench")
    ModelFactor.objects.bulk_create(
        ModelFactor(model=model, factor=factor, weight=Decimal(rng.randint(0, 200)) / 100) for factor in factors
    )
    pairs = rng.sample([(a, b) for a in teams for b in teams if a is not b], INTERFACES)
    interfaces = [Interface.between(source, target, "concurrent") for source, target in pairs]
    Interface.objects.bulk_create(interfaces, batch_size=2000)
    # Each interface has a risk profile: how likely its values are the costly ones (every level occurs).
    profiles = {interface.pk: rng.random() for interface in interfaces}
    InterfaceFactorValue.objects.bulk_create(
        (
            InterfaceFactorValue(
                interface=interface, factor_id=factor.pk, value=values[factor.pk][pick(rng, profiles[interface.pk])]
            )
            for interface in interfaces
            for factor in factors
        ),
        batch_size=5000,
    )
    return model


def pick(rng: random.Random, profile: float) -> int:
    """0, 1 or 2: the costlier the higher the profile."""
    return min(len(CONTRIBUTIONS) - 1, int(profile * 2.2 + rng.random() * 0.8))


def legacy(model: FactorModel) -> dict[int, tuple[Decimal, str]]:
    """energy_engine.py's loop: per interface, its factor values with their contributions, then
    the model's enabled weights (re-read for every interface, as there), summed in Python."""
    results = {}
    for interface_id in Interface.objects.values_list("pk", flat=True):
        rows = InterfaceFactorValue.objects.filter(interface_id=interface_id, ended_at__isnull=True).values_list(
            "factor_id", "value__contribution"
        )
        weights = dict(ModelFactor.objects.filter(model=model, enabled=True).values_list("factor_id", "weight"))
        total = Decimal(0)
        for factor_id, contribution in rows:
            if factor_id in weights:
                total += contribution * weights[factor_id]
        total = min(Decimal(1), total)
        results[interface_id] = (total, frames.level(total))
    return results


def ours(model: FactorModel) -> dict[int, tuple[Decimal, str]]:
    return {
        pk: (loss, level) for pk, loss, level in Interface.objects.with_loss(model).values_list("pk", "loss", "level")
    }


def run(harness) -> None:
    rng = random.Random(11)  # noqa: S311 (benchmark data)
    empty()
    model = fill(rng)
    expected, found = legacy(model), ours(model)
    identical = expected == found
    levels = sorted({level for _, level in found.values()})

    comparison = harness.compare(
        f"energy loss of {INTERFACES:,} interfaces x {FACTORS} factors (one SQL aggregate)",
        lambda: ours(model),
        "the legacy loop (two queries per interface, Python sums)",
        lambda: legacy(model),
        repeat=3,
        warmup=1,
        target="<= 0.1x; identical numbers",
        check=lambda c: c.ratio <= 0.1 and identical,
    )
    comparison.notes.update(identical=identical, levels_present=",".join(levels))
