"""Training, evaluation and prediction on synthetic OULAD: a planted signal is found and noise
is not; the artefact round-trips and a tampered one is refused; the unhappy paths say why."""

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from dropout import features, predicting, training
from dropout.blend import sigmoid
from dropout.models import ArtefactTampered, DropoutModel, DropoutPrediction, FeatureSet
from veritas.models import ActionLog

from .conftest import load

pytestmark = pytest.mark.django_db


def evaluate(target="withdrawn", day=70, train="2013B,2013J", test="2014B") -> dict:
    out = io.StringIO()
    call_command(
        "evaluate_dropout",
        "--train",
        train,
        "--test",
        test,
        "--cutoff-day",
        str(day),
        "--target",
        target,
        "--json",
        stdout=out,
    )
    return json.loads(out.getvalue())


def test_a_planted_signal_is_found(dataset):
    result = evaluate()
    assert result["roc_auc"] > 0.8
    assert {"roc_auc", "pr_auc", "brier", "n_train", "n_test", "positives_test"} <= result.keys()
    assert result["n_test"] == len(
        features.compute(
            training.presentations(["2014B"])[0:1] and [p.pk for p in training.presentations(["2014B"])], 70
        )
    )
    assert 0 < result["positives_test"] < result["n_test"]


def test_noise_is_not_found(tmp_path):
    load(tmp_path / "noise", signal=False, students=200)
    result = evaluate()
    assert 0.35 < result["roc_auc"] < 0.65


def test_clicks_are_used_when_every_presentation_has_them(tmp_path):
    load(tmp_path / "clicks", clicks=True)
    result = evaluate()
    assert result["clicks"] is True
    assert result["features"] == len(features.ALL)


def test_train_stores_a_model_with_its_card_and_predicts_with_reasons(dataset):
    out = io.StringIO()
    call_command(
        "train_dropout",
        "--target",
        "withdrawn",
        "--cutoff-day",
        "70",
        "--train",
        "2013B,2013J",
        "--validate",
        "2014B",
        "--activate",
        stdout=out,
    )
    model = DropoutModel.objects.get()
    assert model.is_active and model.target == "withdrawn" and model.cutoff_day == 70
    assert f"model {model.pk} (withdrawn, day 70" in out.getvalue() and "ROC AUC" in out.getvalue()
    assert model.train_presentations == ["2013B", "2013J"] and model.validation_presentations == ["2014B"]
    assert 0 < model.threshold_medium < model.threshold_high < 1
    card = model.card
    assert {"data", "features", "metrics", "calibration", "roc", "groups", "bands", "limits"} <= card.keys()
    assert {group for group in card["groups"]} == {"gender", "disability", "age_band", "imd_band"}
    assert sum(row["n"] for row in card["groups"]["gender"]) == card["metrics"]["n"]
    assert sum(row["n"] for row in card["calibration"]) == card["metrics"]["n"]

    out = io.StringIO()
    call_command("predict_dropout", "--presentation", "2014B", "--cutoff-day", "70", stdout=out)
    predictions = DropoutPrediction.objects.filter(model=model)
    assert predictions.count() == card["metrics"]["n"]
    assert f"{predictions.count()} predictions for 2014B at day 70" in out.getvalue()
    high = predictions.filter(band="high").first() or predictions.order_by("-probability").first()
    assert high.reasons and all(reason["contribution"] > 0 for reason in high.reasons)
    assert all({"feature", "value", "contribution", "text"} <= reason.keys() for reason in high.reasons)
    # The features it was made from are kept.
    assert FeatureSet.objects.filter(enrollment=high.enrollment, cutoff_day=70, version=features.VERSION).exists()
    # Predicting again replaces, not adds.
    call_command("predict_dropout", "--presentation", "2014B", "--cutoff-day", "70", stdout=io.StringIO())
    assert DropoutPrediction.objects.filter(model=model).count() == card["metrics"]["n"]
    assert ActionLog.objects.filter(verb="train").count() == 1
    assert ActionLog.objects.filter(verb="predict").count() == 2


def test_reasons_add_up_to_the_prediction(dataset):
    model = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"]
    )
    table = features.compute([p.pk for p in training.presentations(["2014B"])], 70)
    blend = predicting.load(model)
    scored = predicting.score(model, table, blend)
    x = training.as_matrix(table, model.features)
    log_odds, contributions = blend.explain(x, table.courses)
    # The trees' TreeSHAP values add up to their raw score, the linear terms to the linear
    # model's: the blend's contributions (plus its bias and course term) to its log-odds.
    trees = blend.booster.predict(x, pred_contrib=True)
    assert np.allclose(trees.sum(axis=1), blend.booster.predict(x, raw_score=True))
    assert np.allclose(sigmoid(log_odds), scored.probabilities)
    assert np.allclose(blend.probabilities(x, table.courses), scored.probabilities)
    # A reason is one of the largest positive contributions among the student's own features.
    i = int(np.argmax(scored.probabilities))
    personal = [j for j, name in enumerate(model.features) if name not in features.CONTEXT]
    best = max(personal, key=lambda j: contributions[i, j])
    assert scored.reasons[i][0]["feature"] == model.features[best]
    assert scored.reasons[i][0]["contribution"] == pytest.approx(contributions[i, best], abs=1e-4)
    assert not {reason["feature"] for reasons in scored.reasons for reason in reasons} & features.CONTEXT


def test_the_artefact_round_trips_and_a_tampered_one_is_refused(dataset):
    model = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"]
    )
    model.refresh_from_db()
    table = features.compute([p.pk for p in training.presentations(["2014B"])], 70)
    first = predicting.score(model, table).probabilities
    again = predicting.score(DropoutModel.objects.get(pk=model.pk), table).probabilities
    assert np.array_equal(first, again)

    text = bytes(model.artefact).replace(b'"intercept":', b'"intercept":1', 1)
    DropoutModel.objects.filter(pk=model.pk).update(artefact=text)
    model.refresh_from_db()
    with pytest.raises(ArtefactTampered, match="SHA-256 does not match"):
        predicting.load(model)
    model.is_active = True
    model.save()
    with pytest.raises(CommandError, match="SHA-256 does not match"):
        call_command("predict_dropout", "--presentation", "2014B", "--cutoff-day", "70", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--train", "2013B,2013J", "--validate", "2099B", "--cutoff-day", "70"], "No presentation 2099B"),
        (["--train", "2013B,2013J", "--validate", "2014B", "--cutoff-day", "400"], "beyond the end of"),
        (["--train", "2013B,2013J", "--validate", "2014B", "--cutoff-day", "-1"], "0 or more"),
        (["--train", "2013B", "--validate", "2013B", "--cutoff-day", "70"], "both trained and validated"),
    ],
)
def test_training_refuses_with_a_clear_error(dataset, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("train_dropout", *arguments, stdout=io.StringIO())
    assert not DropoutModel.objects.exists()


def test_too_few_positives_to_train(tmp_path):
    load(tmp_path / "small", students=12)
    with pytest.raises(CommandError, match="Too few examples to train"):
        call_command(
            "train_dropout", "--train", "2013B,2013J", "--validate", "2014B", "--cutoff-day", "70", stdout=io.StringIO()
        )


def test_evaluate_refuses_a_test_among_the_training_presentations(dataset):
    with pytest.raises(CommandError, match="must not be among the training"):
        evaluate(train="2013B,2013J", test="2013J")
    with pytest.raises(CommandError, match="at least two training presentation codes"):
        evaluate(train="2013J", test="2014B")


def test_predict_needs_an_active_model(dataset):
    with pytest.raises(CommandError, match="No active model for cut-off day 70"):
        call_command("predict_dropout", "--presentation", "2014B", "--cutoff-day", "70")


def test_one_active_model_per_target_and_cutoff(dataset):
    first = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B"], validation_codes=["2013J"], activate=True
    )
    second = training.train(
        target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"], activate=True
    )
    first.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)
