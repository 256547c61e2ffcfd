"""Scoring models: the metrics of a model's kind of problem for it and for a baseline that learned nothing, and the
thresholds a new model must meet (the comparison with the deployed model is the gate's, carolbatch/gate.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from carolbatch.metrics import (
    METRICS,
    Metric,
    Metrics,
    MetricChoiceError,
    Output,
    baseline_output,
    decision_metric,
    metrics_of,
    score_output,
)
from carolbatch.problem import Problem
from carolbatch.training.fitting import TrainedModel

# The names of the threshold settings (declared in carolbatch/settings/platform.py), one per metric:
# `max_test_<name>` where lower is better, `min_test_<name>` where higher is.
THRESHOLD_NAMES = tuple(metric.threshold_setting for metric in METRICS.values())


@dataclass(frozen=True)
class Thresholds:
    """What a new model's test metrics must meet before it may be deployed.

    Attributes:
        limits: threshold setting name (`max_test_rmse`, `min_test_roc_auc`, ...) to its limit; None: no limit.
        min_improvement_over_baseline: how much better than the baseline's its decision metric must be (in the
            metric's units); 0 means strictly better.
        decision_metric: the metric the model must win on; None: its kind's default.
    """

    limits: Mapping[str, float | None] = field(default_factory=dict)
    min_improvement_over_baseline: float = 0.0
    decision_metric: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a model and of a baseline on the same split, the kind of problem and the decision metric,
    whether the model passed the thresholds, how training went (epochs run, best validation loss, why it stopped),
    and the report files (`report.html`, PNG plots) by file name."""

    train: Metrics
    test: Metrics
    baseline_train: Metrics
    baseline_test: Metrics
    approved: bool
    reason: str
    training: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)
    problem: Problem = Problem()
    decision_metric: str = "rmse"

    def metrics(self) -> dict[str, dict[str, Any]]:
        """All metrics as plain dicts, keyed by part (`train`, `test`, `baseline_train`, `baseline_test`),
        and the training facts under `training`."""
        parts = ("train", "test", "baseline_train", "baseline_test")
        return {**{part: getattr(self, part).as_dict() for part in parts}, "training": dict(self.training)}

    @property
    def metric(self) -> Metric:
        return METRICS[self.decision_metric]


def check_thresholds(train: Metrics, test: Metrics, thresholds: Thresholds, baseline_test: Metrics | None = None,
                     metric: Metric | None = None) -> tuple[bool, str]:
    """Approve metrics whose decision metric (`metric`; default: the thresholds' own, else RMSE) is finite, within
    the thresholds and better than the baseline's.

    Returns:
        Whether approved, and the reason, naming the failed limit.

    Raises:
        MetricChoiceError: a threshold is set for a metric the model's kind has not.
    """
    metric = metric or METRICS[thresholds.decision_metric or "rmse"]
    for part, metrics in (("train", train), ("test", test)):
        if not np.isfinite(metrics[metric.name]):
            return False, f"{part} {metric.label} is not finite: {metrics.as_dict()}"
    margin = thresholds.min_improvement_over_baseline
    if baseline_test is not None and not -metric.worse_by(test[metric.name], baseline_test[metric.name]) > margin:
        return False, (f"test {metric.label} {test[metric.name]:.3f} is not better than the baseline's "
                       f"{baseline_test[metric.name]:.3f} by more than min_improvement_over_baseline={margin:g}")
    for name, limit in thresholds.limits.items():
        if limit is not None:
            failed = _failed_limit(name, limit, test)
            if failed:
                return False, failed
    return True, "metrics finite and within the thresholds"


def _failed_limit(setting: str, limit: float, test: Metrics) -> str:
    metric = next(metric for metric in METRICS.values() if metric.threshold_setting == setting)
    if metric.name not in test:
        raise MetricChoiceError(f"setting {setting}={limit:g} bounds {metric.label}, which this kind of model has "
                                f"not: leave it empty, or set one of {', '.join(_settings_of(test))}")
    value = test[metric.name]
    if (value < limit) if metric.higher_is_better else (value > limit):
        side = "below" if metric.higher_is_better else "above"
        return f"test {metric.label} {value:.3f} is {side} {setting}={limit:g}"
    return ""


def _settings_of(test: Metrics) -> list[str]:
    return [METRICS[name].threshold_setting for name in test]


def score_predictions(y_true: np.ndarray, y_predicted: np.ndarray) -> Metrics:
    """A regressor's metrics (MSE, MAE, RMSE, R²; R² is NaN for a single value).

    Raises:
        ValueError: the arrays are empty or of different lengths.
    """
    return score_output(y_true, Output(np.asarray(y_predicted, dtype="float64")), Problem())


def score_baseline(y_train: np.ndarray, y_true: np.ndarray) -> Metrics:
    """A regressor's metrics of always predicting the train mean: what a model has to beat to be worth anything."""
    return score_predictions(y_true, baseline_output(y_train, len(y_true), Problem()).values)


def evaluate_model(trained: TrainedModel, thresholds: Thresholds) -> Evaluation:
    """Score both parts of a trained model's split, and a baseline on it, and check the thresholds.

    Raises:
        MetricChoiceError: the decision metric or a threshold names a metric of another kind of problem.
    """
    problem = trained.problem
    metric = decision_metric(thresholds.decision_metric, problem)
    train = score_output(trained.y_train, trained.train_output, problem)
    test = score_output(trained.y_test, trained.test_output, problem)
    baseline_train = score_output(trained.y_train, baseline_output(trained.y_train, len(trained.y_train), problem),
                                  problem)
    baseline_test = score_output(trained.y_test, baseline_output(trained.y_train, len(trained.y_test), problem),
                                 problem)
    approved, reason = check_thresholds(train, test, thresholds, baseline_test, metric)
    return Evaluation(train=train, test=test, baseline_train=baseline_train, baseline_test=baseline_test,
                      approved=approved, reason=reason, training=dict(trained.training), problem=problem,
                      decision_metric=metric.name)


__all__ = ["Evaluation", "Metrics", "THRESHOLD_NAMES", "Thresholds", "check_thresholds", "evaluate_model",
           "metrics_of", "score_baseline", "score_predictions"]
