"""Scoring models: metrics of a model and of the mean predictor, and the thresholds a new model must meet
(the comparison with the deployed model is the gate's, carolbatch/gate.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from carolbatch.training.fitting import TrainedModel


@dataclass(frozen=True)
class Metrics:
    """Regression metrics of one set of predictions."""

    mse: float
    mae: float
    rmse: float
    r2: float

    def is_finite(self) -> bool:
        return all(math.isfinite(value) for value in asdict(self).values())


@dataclass(frozen=True)
class Thresholds:
    """Optional absolute limits a new model's test metrics must meet before it may be deployed."""

    max_test_rmse: float | None = None
    min_test_r2: float | None = None
    # How much lower than the mean predictor's the test RMSE must be; 0 means strictly lower.
    min_improvement_over_baseline: float = 0.0


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a model and of a mean predictor on the same split, whether the model passed the
    thresholds, how training went (epochs run, best validation loss, why it stopped), and the report
    files (`report.html`, PNG plots) by file name."""

    train: Metrics
    test: Metrics
    baseline_train: Metrics
    baseline_test: Metrics
    approved: bool
    reason: str
    training: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """All metrics as plain dicts, keyed by part (`train`, `test`, `baseline_train`, `baseline_test`),
        and the training facts under `training`."""
        parts = ("train", "test", "baseline_train", "baseline_test")
        return {**{part: asdict(getattr(self, part)) for part in parts}, "training": dict(self.training)}


def score_predictions(y_true: np.ndarray, y_predicted: np.ndarray) -> Metrics:
    """MSE, MAE, RMSE and R² of predictions (R² is NaN for a single value).

    Raises:
        ValueError: the arrays are empty or of different lengths.
    """
    if len(y_true) == 0 or len(y_true) != len(y_predicted):
        raise ValueError(f"cannot score {len(y_predicted)} predictions against {len(y_true)} true values")
    mse = float(mean_squared_error(y_true, y_predicted))
    r2 = float(r2_score(y_true, y_predicted)) if len(y_true) > 1 else math.nan
    return Metrics(mse=mse, mae=float(mean_absolute_error(y_true, y_predicted)), rmse=math.sqrt(mse), r2=r2)


def score_baseline(y_train: np.ndarray, y_true: np.ndarray) -> Metrics:
    """Metrics of always predicting the train mean: what a model has to beat to be worth anything."""
    return score_predictions(y_true, np.full(len(y_true), float(np.mean(y_train))))


def check_thresholds(
    train: Metrics, test: Metrics, thresholds: Thresholds, baseline_test: Metrics | None = None
) -> tuple[bool, str]:
    """Approve metrics that are finite, within the thresholds and better than the mean predictor's.

    Returns:
        Whether approved, and the reason, naming the failed limit.
    """
    for part, metrics in (("train", train), ("test", test)):
        if not metrics.is_finite():
            return False, f"{part} metrics are not finite: {asdict(metrics)}"
    margin = thresholds.min_improvement_over_baseline
    if baseline_test is not None and not test.rmse < baseline_test.rmse - margin:
        return False, (f"test RMSE {test.rmse:.3f} is not below the mean predictor's {baseline_test.rmse:.3f} "
                       f"by more than min_improvement_over_baseline={margin:g}")
    if thresholds.max_test_rmse is not None and test.rmse > thresholds.max_test_rmse:
        return False, f"test RMSE {test.rmse:.3f} is above max_test_rmse={thresholds.max_test_rmse:g}"
    if thresholds.min_test_r2 is not None and test.r2 < thresholds.min_test_r2:
        return False, f"test R² {test.r2:.3f} is below min_test_r2={thresholds.min_test_r2:g}"
    return True, "metrics finite and within the thresholds"


def evaluate_model(trained: TrainedModel, thresholds: Thresholds) -> Evaluation:
    """Score both parts of a trained model's split, and a mean predictor on it, and check the thresholds."""
    train = score_predictions(trained.y_train, trained.y_train_predicted)
    test = score_predictions(trained.y_test, trained.y_test_predicted)
    baseline_test = score_baseline(trained.y_train, trained.y_test)
    approved, reason = check_thresholds(train, test, thresholds, baseline_test)
    return Evaluation(
        train=train,
        test=test,
        baseline_train=score_baseline(trained.y_train, trained.y_train),
        baseline_test=baseline_test,
        approved=approved,
        reason=reason,
        training=dict(trained.training),
    )
