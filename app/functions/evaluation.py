"""Scoring a trained model and deciding whether it may be deployed."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from app.functions.modeling import TrainedModel

logger = logging.getLogger(__name__)


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
class Evaluation:
    """Train and test metrics of a model, with the deployment decision taken on them."""

    train: Metrics
    test: Metrics
    approved: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def score_predictions(y_true: np.ndarray, y_predicted: np.ndarray) -> Metrics:
    """MSE, MAE, RMSE and R² of predictions.

    Raises:
        ValueError: the arrays are empty or of different lengths.
    """
    if len(y_true) == 0 or len(y_true) != len(y_predicted):
        raise ValueError(f"cannot score {len(y_predicted)} predictions against {len(y_true)} true values")
    mse = float(mean_squared_error(y_true, y_predicted))
    r2 = float(r2_score(y_true, y_predicted)) if len(y_true) > 1 else math.nan
    return Metrics(mse=mse, mae=float(mean_absolute_error(y_true, y_predicted)), rmse=math.sqrt(mse), r2=r2)


def decide_deployment(train: Metrics, test: Metrics) -> tuple[bool, str]:
    """Approve a model unless a metric is not a finite number."""
    for part, metrics in (("train", train), ("test", test)):
        if not metrics.is_finite():
            return False, f"{part} metrics are not finite: {asdict(metrics)}"
    return True, "all metrics finite"


def evaluate_model(trained: TrainedModel) -> Evaluation:
    """Score both parts of a trained model's split and decide on deployment."""
    train = score_predictions(trained.y_train, trained.y_train_predicted)
    test = score_predictions(trained.y_test, trained.y_test_predicted)
    approved, reason = decide_deployment(train, test)
    return Evaluation(train=train, test=test, approved=approved, reason=reason)


def format_metrics_table(evaluation: Evaluation) -> str:
    """The metrics as a small aligned text table for the log."""
    lines = [f"{'part':<6}{'MSE':>10}{'MAE':>10}{'RMSE':>10}{'R2':>10}"]
    for part, metrics in (("train", evaluation.train), ("test", evaluation.test)):
        lines.append(f"{part:<6}{metrics.mse:>10.3f}{metrics.mae:>10.3f}{metrics.rmse:>10.3f}{metrics.r2:>10.3f}")
    return "\n".join(lines)
