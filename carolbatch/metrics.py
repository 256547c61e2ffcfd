"""The metrics of each kind of problem, named as scikit-learn's metric functions, each knowing which way is better;
`Metrics`, one set of them; and the paired bootstrap interval of a difference between two models."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from carolbatch.problem import BINARY, MULTICLASS, REGRESSION, Problem


@dataclass(frozen=True)
class Output:
    """A model's answer for some records: `values` (numbers, or a classifier's labels) and, for a classifier,
    `probabilities` (one column per class, in the problem's class order)."""

    values: np.ndarray
    probabilities: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Output:
        return Output(self.values[rows], None if self.probabilities is None else self.probabilities[rows])

    def is_finite(self) -> bool:
        if self.probabilities is not None:
            return bool(np.isfinite(self.probabilities).all())
        return bool(np.isfinite(np.asarray(self.values, dtype="float64")).all())


Score = Callable[[np.ndarray, Output, Problem], float]


@dataclass(frozen=True)
class Metric:
    """One metric: its name (as in settings and metadata), how people write it, which way is better, the kinds it
    applies to and how it is computed."""

    name: str
    label: str
    higher_is_better: bool
    kinds: tuple[str, ...]
    score: Score

    @property
    def threshold_setting(self) -> str:
        """The setting that bounds it: `min_test_<name>` when higher is better, else `max_test_<name>`."""
        return f"{'min' if self.higher_is_better else 'max'}_test_{self.name}"

    def worse_by(self, challenger: float, champion: float) -> float:
        """How much worse `challenger` is than `champion`, in the metric's units (negative: better)."""
        return champion - challenger if self.higher_is_better else challenger - champion


def _sk():
    """scikit-learn's metrics, imported when a metric is first computed (declaring settings needs only names)."""
    from sklearn import metrics

    return metrics


def _mse(y, out, problem):
    return float(_sk().mean_squared_error(y, out.values))


def _positive(y, problem):
    return np.asarray(y) == problem.classes[1]


def _roc_auc(y, out, problem):
    if problem.kind == BINARY:
        return float(_sk().roc_auc_score(_positive(y, problem), out.probabilities[:, 1]))
    return float(_sk().roc_auc_score(y, out.probabilities, multi_class="ovr", average="macro",
                                  labels=list(problem.classes)))


def _f1(y, out, problem):
    if problem.kind == BINARY:
        return float(_sk().f1_score(y, out.values, pos_label=problem.classes[1], zero_division=0.0))
    return float(_sk().f1_score(y, out.values, average="macro", labels=list(problem.classes), zero_division=0.0))


CLASSIFICATION = (BINARY, MULTICLASS)
METRICS: dict[str, Metric] = {metric.name: metric for metric in (
    Metric("mse", "MSE", False, (REGRESSION,), _mse),
    Metric("mae", "MAE", False, (REGRESSION,), lambda y, out, p: float(_sk().mean_absolute_error(y, out.values))),
    Metric("rmse", "RMSE", False, (REGRESSION,), lambda y, out, p: math.sqrt(_mse(y, out, p))),
    Metric("r2", "R²", True, (REGRESSION,),
           lambda y, out, p: float(_sk().r2_score(y, out.values)) if len(y) > 1 else math.nan),
    Metric("log_loss", "log loss", False, CLASSIFICATION,
           lambda y, out, p: float(_sk().log_loss(y, out.probabilities, labels=list(p.classes)))),
    Metric("roc_auc", "ROC AUC", True, CLASSIFICATION, _roc_auc),
    Metric("accuracy", "accuracy", True, CLASSIFICATION, lambda y, out, p: float(_sk().accuracy_score(y, out.values))),
    Metric("balanced_accuracy", "balanced accuracy", True, CLASSIFICATION,
           lambda y, out, p: float(_sk().balanced_accuracy_score(y, out.values))),
    Metric("f1", "F1", True, CLASSIFICATION, _f1),
    Metric("brier", "Brier score", False, (BINARY,),
           lambda y, out, p: float(_sk().brier_score_loss(_positive(y, p), out.probabilities[:, 1]))),
)}
DEFAULT_DECISION_METRIC = {REGRESSION: "rmse", BINARY: "log_loss", MULTICLASS: "log_loss"}


class MetricChoiceError(ValueError):
    """A metric setting names a metric the model's kind of problem has not (a regression metric for a classifier)."""


def metrics_of(kind: str) -> list[Metric]:
    """The metrics of a kind of problem, in a fixed order."""
    return [metric for metric in METRICS.values() if kind in metric.kinds]


def decision_metric(name: str | None, problem: Problem) -> Metric:
    """The metric a model must win on: `name`, or the kind's default (RMSE; log loss for classifiers).

    Raises:
        MetricChoiceError: `name` is not a metric of this kind of problem.
    """
    metric = METRICS[name or DEFAULT_DECISION_METRIC[problem.kind]]
    if problem.kind not in metric.kinds:
        raise MetricChoiceError(f"decision_metric={metric.name} does not apply to {problem.describe()}; its metrics "
                                f"are {', '.join(m.name for m in metrics_of(problem.kind))}")
    return metric


class Metrics(Mapping[str, float]):
    """The metrics of one set of predictions by name (`metrics["rmse"]`, or `metrics.rmse`)."""

    def __init__(self, values: Mapping[str, float] | None = None, /, **named: float) -> None:
        self._values = {name: float(value) for name, value in {**(values or {}), **named}.items()}

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> float:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no metric {name!r} among {', '.join(self._values)}") from None

    def __getstate__(self) -> dict[str, float]:
        return self._values

    def __setstate__(self, state: dict[str, float]) -> None:
        self._values = dict(state)

    def __repr__(self) -> str:
        return f"Metrics({self._values})"

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)

    def is_finite(self) -> bool:
        return all(math.isfinite(value) for value in self._values.values())


def score_output(y_true: np.ndarray, output: Output, problem: Problem) -> Metrics:
    """Every metric of the problem's kind for these predictions; NaN where one is undefined on these records (R² of
    one record, ROC AUC of one class) or the predictions are not finite.

    Raises:
        ValueError: the arrays are empty or of different lengths.
    """
    if len(y_true) == 0 or len(y_true) != len(output.values):
        raise ValueError(f"cannot score {len(output.values)} predictions against {len(y_true)} true values")
    finite = output.is_finite()
    return Metrics({metric.name: _score(metric, y_true, output, problem) if finite else math.nan
                    for metric in metrics_of(problem.kind)})


def _score(metric: Metric, y_true: np.ndarray, output: Output, problem: Problem) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a metric undefined on these records is NaN, said once by the caller
        try:
            return metric.score(y_true, output, problem)
        except ValueError:
            return math.nan


def baseline_output(y_train: np.ndarray, rows: int, problem: Problem) -> Output:
    """What a model that learned nothing but the train part's target answers: its mean, or its class prior (and
    the most frequent class)."""
    if not problem.is_classification:
        return Output(np.full(rows, float(np.mean(y_train))))
    counts = np.array([np.count_nonzero(y_train == label) for label in problem.classes], dtype="float64")
    prior = counts / counts.sum()
    labels = np.array(problem.classes, dtype=np.asarray(y_train).dtype)
    return Output(np.full(rows, labels[int(np.argmax(prior))], dtype=labels.dtype), np.tile(prior, (rows, 1)))


@dataclass(frozen=True)
class Interval:
    """The challenger-minus-champion difference of a metric, with its paired bootstrap interval at `confidence`."""

    difference: float
    low: float
    high: float
    confidence: float
    resamples: int

    def describe(self, metric: Metric) -> str:
        return (f"difference {self.difference:+.3f} ({self.confidence:.0%} interval {self.low:+.3f} to "
                f"{self.high:+.3f})")

    def shows_not_worse(self, metric: Metric, tolerance: float) -> bool:
        """Whether the whole interval lies where the challenger is at most `tolerance` worse."""
        worst = self.high if not metric.higher_is_better else -self.low
        return worst <= tolerance


# The bootstrap resamples at most this many records each time; with more common records the spread is scaled
# back to theirs (an m-out-of-n bootstrap), so a million records cost what 20,000 do.
BOOTSTRAP_RECORDS = 20_000
BOOTSTRAP_RESAMPLES = 1000


def paired_interval(metric: Metric, y_true: np.ndarray, challenger: Output, champion: Output, problem: Problem,
                    confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Interval:
    """The difference challenger - champion of `metric` on the same records, and its interval: the spread of the
    difference over `resamples` paired bootstrap resamples (both models scored on each resample's records),
    centred on the difference. Seeded: the same records give the same interval."""
    difference = _score(metric, y_true, challenger, problem) - _score(metric, y_true, champion, problem)
    generator = np.random.default_rng(seed)
    size = min(len(y_true), BOOTSTRAP_RECORDS)
    deltas = []
    for _ in range(resamples):
        rows = generator.integers(0, len(y_true), size)
        delta = _score(metric, y_true[rows], challenger.take(rows), problem) - _score(
            metric, y_true[rows], champion.take(rows), problem)
        if math.isfinite(delta):
            deltas.append(delta)
    if not deltas:
        return Interval(difference, math.nan, math.nan, confidence, 0)
    spread = (np.asarray(deltas) - np.mean(deltas)) * math.sqrt(size / len(y_true))
    low, high = np.quantile(spread, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(difference, difference + float(low), difference + float(high), confidence, len(deltas))


def interval_facts(interval: Interval | None) -> dict[str, Any] | None:
    """JSON facts of an interval, as the decision keeps them."""
    return None if interval is None else dict(vars(interval))
