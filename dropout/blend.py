"""The risk model: gradient-boosted trees (LightGBM) and a regularised logistic regression,
averaged in log-odds, and its artefact.

Why two: on the development data the trees are better late in a course (interactions such as
"missed an assignment on a course where few are due"), the linear model steadier early on, when
there is little evidence beyond the background and the course. Scored on the same matrices, their
average was at least as good as either at five of the six cut-offs and targets tried, and 0.002
ROC AUC under the linear model at the sixth (docs/dropout.md). Both are additive in
log-odds, so the blend is too: a prediction's log-odds are a bias plus one contribution per
feature (TreeSHAP for the trees, coefficient times standardised value for the linear model,
halved), which the reasons are made of.

Class imbalance: each member is fitted with the positive class weighted neg/pos, and its
log-odds are shifted back by log(neg/pos) (the exact inverse of that weighting for a
well-specified model), so the blend's probabilities are calibrated.

The artefact is one JSON document: LightGBM's text model and the linear model's numbers.
Parsing it cannot run code (unlike a pickle); DropoutModel checks its SHA-256 before it is read.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm
import numpy as np
from sklearn.linear_model import LogisticRegression

FORMAT = "veritas-dropout-blend/1"

TREE_PARAMETERS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "seed": 20131,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
TREES = 100
LINEAR_C = 0.1  # inverse L2 strength on standardised inputs
CLIP = 5.0  # standardised values are clipped to ±CLIP (a new course's extreme calendar)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Linear:
    """Logistic regression on standardised features (missing values imputed with the training
    median, plus an indicator for each feature that was ever missing) and the course (one-hot)."""

    names: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    indicators: list[str]  # features with a "was missing" column
    courses: list[str]
    coef: list[float]
    intercept: float

    @classmethod
    def fit(cls, x: np.ndarray, courses: Sequence[str], y: np.ndarray, names: Sequence[str], weight: float) -> Linear:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature never present: median 0
            medians = np.nanmedian(x, axis=0)
        medians = np.where(np.isnan(medians), 0.0, medians)
        filled = np.where(np.isnan(x), medians, x)
        means, scales = filled.mean(axis=0), filled.std(axis=0)
        scales = np.where(scales > 0, scales, 1.0)
        missing = np.isnan(x)
        indicators = [name for j, name in enumerate(names) if missing[:, j].any() and not missing[:, j].all()]
        draft = cls(
            list(names), medians.tolist(), means.tolist(), scales.tolist(), indicators, sorted(set(courses)), [], 0.0
        )
        model = LogisticRegression(C=LINEAR_C, max_iter=5000, class_weight={0: 1.0, 1: weight})
        model.fit(draft.design(x, courses), y)
        return cls(
            draft.names,
            draft.medians,
            draft.means,
            draft.scales,
            draft.indicators,
            draft.courses,
            model.coef_[0].tolist(),
            float(model.intercept_[0]),
        )

    def design(self, x: np.ndarray, courses: Sequence[str]) -> np.ndarray:
        medians, means, scales = (np.array(v) for v in (self.medians, self.means, self.scales))
        z = np.clip((np.where(np.isnan(x), medians, x) - means) / scales, -CLIP, CLIP)
        columns = [self.names.index(name) for name in self.indicators]
        flags = np.isnan(x[:, columns]).astype(float) if columns else np.empty((len(x), 0))
        index = {course: i for i, course in enumerate(self.courses)}
        onehot = np.zeros((len(x), len(self.courses)))
        for row, course in enumerate(courses):
            if course in index:  # a course the model has not seen: no course term
                onehot[row, index[course]] = 1.0
        return np.column_stack([z, flags, onehot])

    def parts(self, x: np.ndarray, courses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(per-feature contributions, the course's) in log-odds; the intercept is the rest."""
        terms = self.design(x, courses) * np.array(self.coef)
        n = len(self.names)
        per_feature = terms[:, :n].copy()
        for k, name in enumerate(self.indicators):
            per_feature[:, self.names.index(name)] += terms[:, n + k]
        return per_feature, terms[:, n + len(self.indicators) :].sum(axis=1)


@dataclass(frozen=True)
class Blend:
    names: list[str]
    booster: lightgbm.Booster
    tree_shift: float
    linear: Linear
    linear_shift: float

    @classmethod
    def fit(cls, x: np.ndarray, courses: Sequence[str], y: np.ndarray, names: Sequence[str]) -> Blend:
        positives = int(y.sum())
        weight = (len(y) - positives) / positives
        data = lightgbm.Dataset(x, label=y, feature_name=list(names), free_raw_data=False)
        booster = lightgbm.train({**TREE_PARAMETERS, "scale_pos_weight": weight}, data, num_boost_round=TREES)
        linear = Linear.fit(x, courses, y, names, weight)
        return cls(list(names), booster, math.log(weight), linear, math.log(weight))

    def explain(self, x: np.ndarray, courses: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds, per-feature contributions): log-odds = bias + course term + the
        contributions' sum, for each row."""
        if not len(x):
            return np.empty(0), np.empty((0, len(self.names)))
        trees = self.booster.predict(x, pred_contrib=True)  # per feature, then the bias
        linear, course = self.linear.parts(x, courses)
        contributions = 0.5 * trees[:, :-1] + 0.5 * linear
        bias = 0.5 * (trees[:, -1] - self.tree_shift) + 0.5 * (self.linear.intercept - self.linear_shift)
        return bias + 0.5 * course + contributions.sum(axis=1), contributions

    def probabilities(self, x: np.ndarray, courses: Sequence[str]) -> np.ndarray:
        if not len(x):
            return np.empty(0)
        trees = self.booster.predict(x, raw_score=True) - self.tree_shift
        z = self.linear.design(x, courses) @ np.array(self.linear.coef) + self.linear.intercept - self.linear_shift
        return sigmoid(0.5 * trees + 0.5 * z)

    def to_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "features": self.names,
            "trees": {"model": self.booster.model_to_string(), "shift": self.tree_shift},
            "linear": {**self.linear.__dict__, "shift": self.linear_shift},
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Blend:
        document = json.loads(data)
        if document.get("format") != FORMAT:
            raise ValueError(f"Not a {FORMAT} artefact.")
        linear = dict(document["linear"])
        linear_shift = linear.pop("shift")
        booster = lightgbm.Booster(model_str=document["trees"]["model"])
        return cls(document["features"], booster, document["trees"]["shift"], Linear(**linear), linear_shift)
