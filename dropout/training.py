"""Training, validating and evaluating dropout models (``train_dropout``, ``evaluate_dropout``,
``POST models/train/``). The model itself (trees and a linear model, averaged in log-odds;
class imbalance; calibration; the artefact) is dropout/blend.py's.

The protocol is temporal only, never shuffled across time:
- ``train`` fits on the training presentations and measures on the later validation ones: the
  stored model is the one measured, its card (metrics, calibration table, ROC curve, metrics
  per group, bands) comes from the validation presentations, and so do the bands' thresholds;
- ``evaluate`` measures a model fitted on all training presentations but the latest on the
  latest, then refits on all of them (more courses covered) and scores the test presentations
  once.
Hyper-parameters and the number of trees are fixed (dropout/blend.py), chosen once on the
development data's training presentations (2013B fitted, 2013J validated): choosing the trees
per model by early stopping on one later presentation was unstable (it stopped at a handful of
trees when that presentation's courses differed); a recalibration fitted on the validation
presentation (Platt scaling) carried its base rate over to the next and made the probabilities
worse.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score, roc_curve

from dropout import features
from dropout.blend import LINEAR_C, TREE_PARAMETERS, TREES, Blend
from dropout.models import Algorithm, DropoutModel, Enrollment, LearningEvent, Presentation, Target
from veritas import audit

MIN_CLASS = 20  # positives and negatives needed in the fit and in the validation
GROUPS = ("gender", "disability", "age_band", "imd_band")
MIN_GROUP = 50  # below this many enrolments a group's figures are shown but flagged


class TrainingError(Exception):
    """Training cannot go ahead (unknown presentation, cut-off beyond the course, too few
    positives): the message says why."""


def presentations(codes: Sequence[str]) -> list[Presentation]:
    """The presentations of codes like ``2014J`` (every course's) or ``AAA-2014J`` (one)."""
    found, unknown = [], []
    for code in codes:
        code = code.strip()
        if "-" in code or " " in code:
            course, _, pcode = code.replace(" ", "-").partition("-")
            matches = list(
                Presentation.objects.filter(course__code=course, code=pcode.upper()).select_related("course")
            )
        else:
            matches = list(Presentation.objects.filter(code=code.upper()).select_related("course"))
        if not matches:
            unknown.append(code)
        found.extend(matches)
    if unknown:
        raise TrainingError(f"No presentation {', '.join(unknown)}.")
    return found


def check_cutoff(items: Sequence[Presentation], cutoff_day: int) -> None:
    if cutoff_day < 0:
        raise TrainingError("The cut-off day counts from the presentation's start: 0 or more.")
    beyond = [str(p) for p in items if cutoff_day >= p.length_days]
    if beyond:
        raise TrainingError(
            f"Cut-off day {cutoff_day} is at or beyond the end of {', '.join(beyond)} "
            f"({min(p.length_days for p in items)} days): predictions are for running courses."
        )


def has_clicks(items: Sequence[Presentation]) -> bool:
    """Every presentation has click data (else click features would read as zero activity)."""
    with_events = set(
        Enrollment.objects.filter(presentation__in=items, pk__in=LearningEvent.objects.values("enrollment_id"))
        .values_list("presentation_id", flat=True)
        .distinct()
    )
    return bool(items) and all(p.pk in with_events for p in items)


@dataclass
class Matrix:
    """Features as a float matrix (NaN where missing) in ``names`` order, labels, and the
    groups for the card."""

    names: list[str]
    x: np.ndarray
    courses: list[str]
    y: np.ndarray
    table: features.FeatureTable
    groups: dict[str, list[str]] = field(default_factory=dict)


def as_matrix(table: features.FeatureTable, names: Sequence[str]) -> np.ndarray:
    if not len(table):
        return np.empty((0, len(names)))
    columns = [features.ALL.index(name) for name in names]
    return np.array(table.rows, dtype=np.float64)[:, columns]


def matrix(items: Sequence[Presentation], cutoff_day: int, target: str, names: Sequence[str]) -> Matrix:
    table = features.compute([p.pk for p in items], cutoff_day)
    groups = Enrollment.objects.filter(pk__in=table.ids).order_by("pk").values_list(*GROUPS)
    columns = list(zip(*groups, strict=True)) if len(table) else [() for _ in GROUPS]
    return Matrix(
        names=list(names),
        x=as_matrix(table, names),
        courses=table.courses,
        y=np.array(table.labels(target), dtype=np.int8),
        table=table,
        groups={group: list(values) for group, values in zip(GROUPS, columns, strict=True)},
    )


def _check_classes(data: Matrix, what: str) -> None:
    positives = int(data.y.sum())
    negatives = len(data.y) - positives
    if positives < MIN_CLASS or negatives < MIN_CLASS:
        raise TrainingError(
            f"Too few examples to {what}: {positives} positive and {negatives} negative enrolments "
            f"(at least {MIN_CLASS} of each are needed)."
        )


def fit(train: Matrix) -> Blend:
    return Blend.fit(train.x, train.courses, train.y, train.names)


def thresholds(y: np.ndarray) -> tuple[float, float]:
    """The bands' thresholds, from the validation presentations' base rate (the probabilities
    are calibrated, so a threshold reads as a risk): medium from the base rate (above-average
    risk), high from twice it (or halfway from it to certainty, where twice would be beyond
    that). The card shows how many validation enrolments each band held and how many of them
    went on to the outcome."""
    base = float(y.mean())
    return round(base, 4), round(min(2 * base, (1 + base) / 2), 4)


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    both = 0 < y.sum() < len(y)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 4) if len(y) else None,
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), 4) if len(y) else None,
        "mean_predicted": round(float(p.mean()), 4) if len(y) else None,
        "observed_rate": round(float(y.mean()), 4) if len(y) else None,
    }


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & ((p < high) if high < 1 else (p <= high))
        if inside.any():
            rows.append(
                {
                    "from": round(float(low), 2),
                    "to": round(float(high), 2),
                    "n": int(inside.sum()),
                    "mean_predicted": round(float(p[inside].mean()), 4),
                    "observed_rate": round(float(y[inside].mean()), 4),
                }
            )
    return rows


def roc_points(y: np.ndarray, p: np.ndarray, points: int = 60) -> list[list[float]]:
    if not 0 < y.sum() < len(y):
        return []
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(points, len(fpr))).astype(int))
    return [[round(float(fpr[i]), 4), round(float(tpr[i]), 4)] for i in keep]


def group_metrics(data: Matrix, p: np.ndarray) -> dict[str, list[dict]]:
    table = {}
    for group in GROUPS:
        values = np.array(["unknown" if v in ("", None) else str(v) for v in data.groups[group]])
        rows = []
        for value in sorted(set(values)):
            inside = values == value
            row = {"value": _group_label(group, value), **metrics(data.y[inside], p[inside])}
            row["small"] = row["n"] < MIN_GROUP
            rows.append(row)
        table[group] = rows
    return table


def _group_label(group: str, value: str) -> str:
    if group == "disability":
        return {"True": "yes", "False": "no"}.get(value, value)
    if group == "gender":
        return {"F": "female", "M": "male"}.get(value, value)
    return value


@dataclass
class Trained:
    fitted: Blend
    names: list[str]
    validation: Matrix
    validation_p: np.ndarray
    train_rows: int


def _names(items: Sequence[Presentation]) -> list[str]:
    return list(features.ALL if has_clicks(items) else features.NO_CLICKS)


def train_validated(train_items, validation_items, cutoff_day: int, target: str) -> Trained:
    """Fit on ``train_items``, measure on ``validation_items``."""
    check_cutoff([*train_items, *validation_items], cutoff_day)
    names = _names([*train_items, *validation_items])
    train, validation = (matrix(items, cutoff_day, target, names) for items in (train_items, validation_items))
    _check_classes(train, "train")
    _check_classes(validation, "validate")
    fitted = fit(train)
    return Trained(fitted, names, validation, fitted.probabilities(validation.x, validation.courses), len(train.y))


def card(trained: Trained, *, target: str, cutoff_day: int, train_items, validation_items, train_rows: int) -> dict:
    p, data = trained.validation_p, trained.validation
    low, high = thresholds(data.y)
    bands = []
    for name, inside in (
        ("low", p < low),
        ("medium", (p >= low) & (p < high)),
        ("high", p >= high),
    ):
        bands.append(
            {
                "band": name,
                "n": int(inside.sum()),
                "observed_rate": round(float(data.y[inside].mean()), 4) if inside.any() else None,
            }
        )
    importance = trained.fitted.booster.feature_importance("gain")
    linear = trained.fitted.linear
    return {
        "data": {
            "target": target,
            "positive_results": list(Target(target).results),
            "cutoff_day": cutoff_day,
            "train_presentations": sorted(str(p) for p in train_items),
            "validation_presentations": sorted(str(p) for p in validation_items),
            "train_enrollments": train_rows,
            "validation_enrollments": len(data.y),
            "population": (
                f"Enrolments registered by day {cutoff_day} and not unregistered by then; features use only what "
                f"was known on day {cutoff_day}."
            ),
        },
        "features": [
            {"name": name, "tree_gain": round(float(gain), 1), "linear_coefficient": round(coef, 4)}
            for name, gain, coef in sorted(
                zip(trained.names, importance, linear.coef[: len(trained.names)], strict=True),
                key=lambda item: -item[1],
            )
        ],
        "metrics": metrics(data.y, p),
        "calibration": calibration_table(data.y, p),
        "roc": roc_points(data.y, p),
        "groups": group_metrics(data, p),
        "bands": bands,
        "thresholds": {"medium": low, "high": high},
        "limits": [
            "Validated on one later presentation: figures on another may differ, above all for a course the "
            "training data does not hold.",
            "The model learns who withdrew in the past; a group that was served badly then may be flagged more now. "
            "Compare the groups' figures before acting on a band.",
            "A probability is a rate among similar enrolments, not a verdict on one student.",
            "Scores count from the day a submission was dated; a mark known later is still used from that day "
            "(OULAD has no marking dates), so early figures are slightly optimistic.",
            "Earlier attempts count only where their presentation is in the data; OULAD's own count of previous "
            "attempts reaches further back.",
            "The course's calendar (its length, start month, what is due) places the course, not the student: it "
            "weighs in the probability but is never given as a reason.",
        ],
    }


def store(
    trained: Trained,
    *,
    target: str,
    cutoff_day: int,
    train_items,
    validation_items,
    train_rows: int,
    actor=None,
    activate: bool = False,
    name: str = "",
) -> DropoutModel:
    """Save a trained model with its card (and audit it); ``activate`` makes it the active one
    for its target and cut-off."""
    text = trained.fitted.to_bytes()
    model_card = card(
        trained,
        target=target,
        cutoff_day=cutoff_day,
        train_items=train_items,
        validation_items=validation_items,
        train_rows=train_rows,
    )
    with transaction.atomic():
        model = DropoutModel.objects.create(
            name=name or f"{target} day {cutoff_day} ({timezone.now():%Y-%m-%d %H:%M})",
            target=target,
            cutoff_day=cutoff_day,
            algorithm=Algorithm.BLEND,
            parameters={
                "trees": {k: v for k, v in TREE_PARAMETERS.items() if k not in ("num_threads", "verbosity")},
                "tree_count": TREES,
                "linear": {"C": LINEAR_C, "courses": trained.fitted.linear.courses},
                "prior_shift": trained.fitted.tree_shift,
            },
            features=trained.names,
            feature_version=features.VERSION,
            train_presentations=sorted({p.code for p in train_items}),
            validation_presentations=sorted({p.code for p in validation_items}),
            metrics=model_card["metrics"],
            card=model_card,
            threshold_medium=model_card["thresholds"]["medium"],
            threshold_high=model_card["thresholds"]["high"],
            artefact=text,
            sha256=hashlib.sha256(text).hexdigest(),
            trained_at=timezone.now(),
            trained_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit.record("train", actor=actor, obj=model, changes={"metrics": model.metrics})
        if activate:
            activate_model(model, actor=actor)
    return model


def activate_model(model: DropoutModel, *, actor=None) -> None:
    with transaction.atomic():
        DropoutModel.objects.select_for_update().filter(target=model.target, cutoff_day=model.cutoff_day).exclude(
            pk=model.pk
        ).filter(is_active=True).update(is_active=False)
        DropoutModel.objects.filter(pk=model.pk).update(is_active=True)
        model.is_active = True
        audit.record("activate", actor=actor, obj=model)


def train(
    *,
    target: str,
    cutoff_day: int,
    train_codes: Sequence[str],
    validation_codes: Sequence[str],
    actor=None,
    activate: bool = False,
) -> DropoutModel:
    """Train on ``train_codes``, validate on ``validation_codes`` (later presentations), store."""
    Target(target)
    train_items, validation_items = presentations(train_codes), presentations(validation_codes)
    if {p.pk for p in train_items} & {p.pk for p in validation_items}:
        raise TrainingError("A presentation cannot be both trained and validated on.")
    trained = train_validated(train_items, validation_items, cutoff_day, target)
    return store(
        trained,
        target=target,
        cutoff_day=cutoff_day,
        train_items=train_items,
        validation_items=validation_items,
        train_rows=trained.train_rows,
        actor=actor,
        activate=activate,
    )


def evaluate(*, target: str, cutoff_day: int, train_codes: Sequence[str], test_codes: Sequence[str]) -> dict:
    """The evaluation protocol: inside the training presentations the latest code validates a
    model fitted on the earlier ones (reported as ``validation``); the model is then refitted on
    all of them and scores the test presentations once."""
    Target(target)
    codes = sorted({code.strip().upper() for code in train_codes}, key=_code_order)
    if len(codes) < 2:
        raise TrainingError("Give at least two training presentation codes: the latest validates the others.")
    test_items = presentations(test_codes)
    if {p.code for p in test_items} & set(codes):
        raise TrainingError("The test presentations must not be among the training ones.")
    earlier, latest = presentations(codes[:-1]), presentations(codes[-1:])
    check_cutoff(test_items, cutoff_day)
    validated = train_validated(earlier, latest, cutoff_day, target)
    names = validated.names if has_clicks(test_items) else [n for n in validated.names if n in features.NO_CLICKS]
    full = matrix([*earlier, *latest], cutoff_day, target, names)
    fitted = fit(full)
    test = matrix(test_items, cutoff_day, target, names)
    result = metrics(test.y, fitted.probabilities(test.x, test.courses))
    return {
        "target": target,
        "cutoff_day": cutoff_day,
        "train": codes,
        "test": sorted({p.code for p in test_items}),
        "roc_auc": result["roc_auc"],
        "pr_auc": result["pr_auc"],
        "brier": result["brier"],
        "log_loss": result["log_loss"],
        "n_train": len(full.y),
        "n_test": len(test.y),
        "positives_train": int(full.y.sum()),
        "positives_test": result["positives"],
        "mean_predicted_test": result["mean_predicted"],
        "trees": TREES,
        "features": len(names),
        "clicks": "clicks_total" in names,
        "validation": {"presentation": codes[-1], **metrics(validated.validation.y, validated.validation_p)},
    }


def _code_order(code: str) -> tuple[int, str]:
    return int(code[:4]), code[4:]
