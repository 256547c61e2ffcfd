"""Metrics, the mean-predictor baseline, the threshold check and the deployment decision against the champion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carolbatch.evaluation import (
    Champion,
    Evaluation,
    Metrics,
    Thresholds,
    check_thresholds,
    decide_deployment,
    evaluate_model,
    score_baseline,
    score_champion,
    score_predictions,
)
from tests.conftest import FEATURES, train_tiny


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
        (Thresholds(max_test_rmse=3.0), True, "within"),
        (Thresholds(max_test_rmse=1.0), False, "max_test_rmse=1"),
        (Thresholds(min_test_r2=0.8), True, "within"),
        (Thresholds(min_test_r2=0.99), False, "min_test_r2=0.99"),
    ],
)
def test_check_thresholds_names_the_limit_that_failed(thresholds, approved, words):
    assert check_thresholds(metrics(2.0), metrics(2.0, r2=0.85), thresholds)[0] is approved
    assert words in check_thresholds(metrics(2.0), metrics(2.0, r2=0.85), thresholds)[1]


def test_check_thresholds_refuses_non_finite_metrics():
    approved, reason = check_thresholds(metrics(1.0), metrics(math.nan), Thresholds())
    assert not approved and "test metrics are not finite" in reason


def test_first_model_is_deployed_when_it_passes_the_thresholds():
    approved, reason = decide_deployment(evaluation(3.5), None, 0.0)
    assert approved and "no model is deployed yet" in reason


def test_threshold_refusal_wins_over_a_worse_champion():
    approved, reason = decide_deployment(evaluation(3.5, False, "test R² 0.8 is below min_test_r2=0.99"),
                                         Champion("v1", metrics(9.0)), 0.0)
    assert not approved and "min_test_r2=0.99" in reason


def test_worse_challenger_is_refused_with_both_rmse_values():
    approved, reason = decide_deployment(evaluation(16.4), Champion("v1", metrics(3.5)), 0.0)
    assert not approved
    assert "16.400" in reason and "3.500" in reason and "v1" in reason and "champion_tolerance=0" in reason


def test_tolerance_lets_a_slightly_worse_challenger_through():
    assert decide_deployment(evaluation(3.6), Champion("v1", metrics(3.5)), 0.2)[0]
    assert not decide_deployment(evaluation(3.6), Champion("v1", metrics(3.5)), 0.05)[0]


def test_an_unscorable_champion_blocks_deployment_naming_what_is_missing():
    champion = Champion("v1", None, "the ingested records have no usable column RM")
    approved, reason = decide_deployment(evaluation(3.5), champion, 0.0)
    assert not approved and reason == ("deployed model v1 cannot be scored on the same test rows: "
                                       "the ingested records have no usable column RM")


def test_identical_metrics_on_the_same_data_are_not_a_new_version():
    approved, reason = decide_deployment(evaluation(3.5), Champion("v1", metrics(3.5)), 0.0, same_data=True)
    assert not approved and "identical to deployed model v1" in reason
    assert decide_deployment(evaluation(3.5), Champion("v1", metrics(3.5)), 0.0, same_data=False)[0]
    assert decide_deployment(evaluation(3.4), Champion("v1", metrics(3.5)), 0.0, same_data=True)[0]


@pytest.mark.parametrize("margin, approved", [(0.0, True), (0.5, True), (1.0, False), (2.0, False)])
def test_a_model_must_beat_the_mean_predictor(margin, approved):
    result = check_thresholds(metrics(2.0), metrics(2.0), Thresholds(min_improvement_over_baseline=margin),
                              baseline_test=metrics(3.0))
    assert result[0] is approved
    assert approved or "mean predictor's 3.000 by more than min_improvement_over_baseline" in result[1]
    assert not check_thresholds(metrics(2.0), metrics(3.0), Thresholds(), baseline_test=metrics(3.0))[0]


@given(challenger=st.floats(0.01, 100), champion=st.floats(0.01, 100), tolerance=st.floats(0, 10))
def test_deployed_exactly_when_not_worse_than_champion_plus_tolerance(challenger, champion, tolerance):
    approved, _ = decide_deployment(evaluation(challenger), Champion("v1", metrics(champion)), tolerance)
    assert approved == (challenger <= champion + tolerance)


def test_score_champion_uses_its_own_feature_columns_on_the_given_rows(trained, tiny_frame):
    reordered = tiny_frame[["y", "c", "id", "b", "a"]]
    champion = score_champion("v1", trained.model, FEATURES, reordered, "y", trained.split.test_rows)
    assert champion.version == "v1" and champion.problem == ""
    assert champion.test == score_predictions(trained.y_test, trained.y_test_predicted)


def test_score_champion_reports_a_champion_whose_features_are_gone(trained, tiny_frame):
    champion = score_champion("v1", trained.model, FEATURES, tiny_frame.drop(columns=["b"]), "y",
                              trained.split.test_rows)
    assert champion.test is None and champion.problem == "the ingested records have no usable column b"


def test_score_champion_reports_a_champion_trained_on_other_features(trained, tiny_frame):
    champion = score_champion("v1", trained.model, ("a", "b"), tiny_frame, "y", trained.split.test_rows)
    assert champion.test is None and "ValueError" in champion.problem
