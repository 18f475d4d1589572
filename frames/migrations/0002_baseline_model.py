# The legacy engine's baseline: its four factors, their values' energy-loss contributions and the
# model "baseline_v1" (every factor enabled at weight 1, active), as energy_engine.py created them
# on first use. Here they are data from the start; a fresh database has exactly one active model.

from decimal import Decimal

from django.db import migrations

FACTORS = [
    (
        "knowledge_type",
        "Knowledge Type",
        "NDA_Dimension",
        "established",
        "Whether knowledge is codified (documented) or institutional (tacit).",
        [("codified", "Codified", "0.10"), ("institutional", "Institutional", "0.40")],
    ),
    (
        "bond_strength",
        "Bond Strength",
        "Interface_Property",
        "established",
        "Strength of relationship between entities.",
        [("strong", "Strong", "0.05"), ("moderate", "Moderate", "0.20"), ("weak", "Weak", "0.35")],
    ),
    (
        "temporal_alignment",
        "Temporal Alignment",
        "NDA_Dimension",
        "provisional",
        "Timing of knowledge transfer relative to need.",
        [("aligned", "Well-Aligned", "0.05"), ("misaligned", "Misaligned", "0.25")],
    ),
    (
        "actor_autonomy",
        "Actor Autonomy",
        "NDA_Dimension",
        "provisional",
        "Degree of independence of entities at interface.",
        [("high", "High Autonomy", "0.15"), ("low", "Low Autonomy", "0.05")],
    ),
]


def seed(apps, schema_editor):
    RiskFactor = apps.get_model("frames", "RiskFactor")
    FactorValue = apps.get_model("frames", "FactorValue")
    FactorModel = apps.get_model("frames", "FactorModel")
    ModelFactor = apps.get_model("frames", "ModelFactor")
    model = FactorModel.objects.create(
        name="baseline_v1",
        display_name="Baseline Model (NDA-Based)",
        hypothesis="Knowledge transfer risk correlates with knowledge type and bond strength",
        is_baseline=True,
        is_active=not FactorModel.objects.filter(is_active=True).exists(),
    )
    for name, display, category, confidence, description, values in FACTORS:
        factor = RiskFactor.objects.create(
            name=name, display_name=display, category=category, confidence=confidence, description=description
        )
        for order, (value, value_display, contribution) in enumerate(values):
            FactorValue.objects.create(
                factor=factor, name=value, display_name=value_display, contribution=Decimal(contribution), order=order
            )
        ModelFactor.objects.create(model=model, factor=factor, weight=Decimal(1), enabled=True)


def unseed(apps, schema_editor):
    apps.get_model("frames", "FactorModel").objects.filter(name="baseline_v1").delete()
    apps.get_model("frames", "RiskFactor").objects.filter(name__in=[f[0] for f in FACTORS]).delete()


class Migration(migrations.Migration):
    dependencies = [("frames", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
