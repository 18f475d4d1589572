"""Predictions with reasons (``predict_dropout``, the risk list).

For each enrolment of the population at the model's cut-off: the features (one SQL statement,
dropout/features.py), the calibrated probability, the band from the model's thresholds, and the
reasons: the student's features whose contributions to the log-odds (dropout/blend.py: TreeSHAP
for the trees, coefficient times standardised value for the linear model; with the bias they add
up to the log-odds the probability comes from) raise the risk most, each with its value and a
sentence. The features and predictions are written in bulk
(COPY into a staging table, then one upsert each), replacing the model's earlier prediction for
the enrolment.
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from dropout import features
from dropout.blend import Blend, sigmoid
from dropout.models import DropoutModel, DropoutPrediction, FeatureSet, Presentation
from dropout.training import TrainingError, as_matrix, check_cutoff
from veritas import audit, bulk

REASONS = 3


@dataclass(frozen=True)
class Scored:
    ids: list[int]
    probabilities: np.ndarray
    bands: list[str]
    reasons: list[list[dict]]
    values: list[dict]


def load(model: DropoutModel) -> Blend:
    """The model; ArtefactTampered if the bytes are not the ones trained."""
    return Blend.from_bytes(model.artefact_bytes())


def score(model: DropoutModel, table: features.FeatureTable, blend: Blend | None = None) -> Scored:
    """Probabilities, bands and reasons of a feature table under ``model``."""
    if not len(table):
        return Scored([], np.empty(0), [], [], [])
    blend = blend or load(model)
    names = list(model.features)
    x = as_matrix(table, names)
    log_odds, contributions = blend.explain(x, table.courses)
    probabilities = sigmoid(log_odds)
    # Reasons come from the student's own features, not the course's calendar.
    personal = np.array([name not in features.CONTEXT for name in names])
    weighted = np.where(personal, contributions, -np.inf)
    top = np.argsort(-weighted, axis=1)[:, :REASONS]
    bands, reasons, values = [], [], []
    for i in range(len(x)):
        row = {name: (None if np.isnan(value) else float(value)) for name, value in zip(names, x[i], strict=True)}
        found = []
        for j in top[i]:
            contribution = float(weighted[i, j])
            if contribution <= 0:
                break
            name = names[j]
            found.append(
                {
                    "feature": name,
                    "value": row[name],
                    "contribution": round(contribution, 4),
                    "text": features.sentence(name, row[name], row, table.cutoff_day),
                }
            )
        bands.append(model.band(float(probabilities[i])))
        reasons.append(found)
        values.append(row)
    return Scored(list(table.ids), probabilities, bands, reasons, values)


STAGE = "dropout_prediction_stage"
STAGE_COLUMNS = {
    "enrollment_id": "int8",
    "probability": "float8",
    "band": "text",
    "reasons": "jsonb",
    "values": "jsonb",
}
P, F = DropoutPrediction._meta.db_table, FeatureSet._meta.db_table


def _dump(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def write(model: DropoutModel, scored: Scored) -> int:
    """Upsert the predictions and the features they were made from."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ({', '.join(f'{k} {v}' for k, v in STAGE_COLUMNS.items())}) ON COMMIT DROP"
        )
        bulk.copy_rows(
            cursor,
            STAGE,
            STAGE_COLUMNS,
            (
                (pk, float(p), band, Jsonb(reasons, dumps=_dump), Jsonb(values, dumps=_dump))
                for pk, p, band, reasons, values in zip(
                    scored.ids, scored.probabilities, scored.bands, scored.reasons, scored.values, strict=True
                )
            ),
        )
        cursor.execute(
            f"""INSERT INTO {P} (enrollment_id, model_id, cutoff_day, probability, band, reasons, predicted_at)
            SELECT enrollment_id, %(model)s, %(day)s, probability, band, reasons, %(now)s FROM {STAGE}
            ON CONFLICT (enrollment_id, model_id) DO UPDATE SET cutoff_day = EXCLUDED.cutoff_day,
                probability = EXCLUDED.probability, band = EXCLUDED.band, reasons = EXCLUDED.reasons,
                predicted_at = EXCLUDED.predicted_at""",
            {"model": model.pk, "day": model.cutoff_day, "now": now},
        )
        written = cursor.rowcount
        cursor.execute(
            f"""INSERT INTO {F} (enrollment_id, cutoff_day, version, values, computed_at)
            SELECT enrollment_id, %(day)s, %(version)s, values, %(now)s FROM {STAGE}
            ON CONFLICT (enrollment_id, cutoff_day, version) DO UPDATE SET values = EXCLUDED.values,
                computed_at = EXCLUDED.computed_at""",
            {"day": model.cutoff_day, "version": model.feature_version, "now": now},
        )
        cursor.execute(f"DROP TABLE {STAGE}")
    return written


def predict(model: DropoutModel, items: Sequence[Presentation], *, actor=None) -> int:
    """Predict the population of ``items`` at the model's cut-off and store it (audited)."""
    if model.feature_version != features.VERSION:
        raise TrainingError(
            f"Model {model.pk} was trained on features {model.feature_version}; this version computes "
            f"{features.VERSION}: train a new model."
        )
    check_cutoff(items, model.cutoff_day)
    blend = load(model)
    table = features.compute([p.pk for p in items], model.cutoff_day)
    scored = score(model, table, blend)
    with transaction.atomic():
        written = write(model, scored)
        audit.record(
            "predict",
            actor=actor,
            model=DropoutPrediction,
            changes={
                "model": model.pk,
                "presentations": sorted(str(p) for p in items),
                "cutoff_day": model.cutoff_day,
                "counts": {
                    "predictions": written,
                    **{band: scored.bands.count(band) for band in ("low", "medium", "high")},
                },
            },
        )
    return written
