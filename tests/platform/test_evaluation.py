"""Metrics, the mean-predictor baseline and the threshold check (the decision against the champion: test_gate.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carolbatch.evaluation import (
    Evaluation,
    Metrics,
    Thresholds,
    check_thresholds,
    evaluate_model,
    score_baseline,
    score_predictions,
)
from tests.conftest import train_tiny


def metrics(rmse: float, r2: float = 0.8) -> Metrics:
    return Metrics(mse=rmse**2, mae=rmse, rmse=rmse, r2=r2)


def evaluation(rmse: float, approved: bool = True, reason: str = "within the thresholds") -> Evaluation:
    return Evaluation(train=metrics(rmse), test=metrics(rmse), baseline_train=metrics(9.0, 0.0),
                      baseline_test=metrics(9.0, 0.0), approved=approved, reason=reason)


@pytest.fixture
def trained(tiny_frame):
    return train_tiny(tiny_frame, 200)


def test_score_predictions_matches_hand_computed_values():
    result = score_predictions(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert result.mse == pytest.approx(1.0)
    assert result.mae == pytest.approx(0.5)
    assert result.rmse == pytest.approx(1.0)
    assert result.r2 == pytest.approx(1 - 4.0 / 5.0)


@pytest.mark.parametrize("y_true, y_predicted", [([], []), ([1.0, 2.0], [1.0])])
def test_score_predictions_refuses_empty_or_mismatched_arrays(y_true, y_predicted):
    with pytest.raises(ValueError, match="cannot score"):
        score_predictions(np.array(y_true), np.array(y_predicted))


def test_baseline_predicts_the_train_mean():
    result = score_baseline(np.array([1.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    assert result.mae == pytest.approx((0 + 2 + 4) / 3)
    assert score_baseline(np.array([1.0, 3.0, 5.0]), np.array([1.0, 3.0, 5.0])).r2 == pytest.approx(0.0)


def test_evaluate_model_scores_model_and_baseline_on_the_same_split(trained):
    result = evaluate_model(trained, Thresholds())
    assert result.approved and result.reason
    assert result.test.rmse < result.baseline_test.rmse
    assert result.test == score_predictions(trained.y_test, trained.y_test_predicted)
    assert set(result.metrics()) == {"train", "test", "baseline_train", "baseline_test", "training"}
    assert set(result.metrics()["test"]) == {"mse", "mae", "rmse", "r2"}
    training = result.metrics()["training"]
    assert training["epochs_run"] == 200 and training["stop_reason"] == "reached model_epochs=200"
    assert training["best_validation_loss"] == pytest.approx(trained.training["best_validation_loss"])


@pytest.mark.parametrize(
    "thresholds, approved, words",
    [
        (Thresholds(), True, "within"),
        (Thresholds({"max_test_rmse": 3.0}), True, "within"),
        (Thresholds({"max_test_rmse": 1.0}), False, "max_test_rmse=1"),
        (Thresholds({"min_test_r2": 0.8}), True, "within"),
        (Thresholds({"min_test_r2": 0.99}), False, "min_test_r2=0.99"),
    ],
)
def test_check_thresholds_names_the_limit_that_failed(thresholds, approved, words):
    assert check_thresholds(metrics(2.0), metrics(2.0, r2=0.85), thresholds)[0] is approved
    assert words in check_thresholds(metrics(2.0), metrics(2.0, r2=0.85), thresholds)[1]


def test_check_thresholds_refuses_non_finite_metrics():
    approved, reason = check_thresholds(metrics(1.0), metrics(math.nan), Thresholds())
    assert not approved and "test RMSE is not finite" in reason


@pytest.mark.parametrize("margin, approved", [(0.0, True), (0.5, True), (1.0, False), (2.0, False)])
def test_a_model_must_beat_the_mean_predictor(margin, approved):
    result = check_thresholds(metrics(2.0), metrics(2.0), Thresholds(min_improvement_over_baseline=margin),
                              baseline_test=metrics(3.0))
    assert result[0] is approved
    assert approved or "not better than the baseline's 3.000 by more than min_improvement_over_baseline" in result[1]
    assert not check_thresholds(metrics(2.0), metrics(3.0), Thresholds(), baseline_test=metrics(3.0))[0]