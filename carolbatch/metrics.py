"""The metrics of each kind of problem, named as scikit-learn's metric functions, each knowing which way is better;
`Metrics`, one set of them; and the paired bootstrap interval of a difference between two models."""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
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


class Case:
    """One set of predictions to score, with what several metrics share computed once: each label's class position
    and the confusion matrix."""

    def __init__(self, y_true: np.ndarray, output: Output, problem: Problem) -> None:
        self.y, self.out, self.problem = y_true, output, problem

    @cached_property
    def true_index(self) -> np.ndarray:
        """Each true label's position among the classes.

        Raises:
            ValueError: a label is not one of the model's classes.
        """
        return _known(class_indices(self.y, self.problem.classes))

    @cached_property
    def confusion(self) -> np.ndarray:
        """Counts of (true class, predicted class), in the classes' order."""
        size = len(self.problem.classes)
        predicted = _known(class_indices(self.out.values, self.problem.classes))
        return np.bincount(self.true_index * size + predicted, minlength=size * size).reshape(size, size)


def _known(indices: np.ndarray) -> np.ndarray:
    if indices.size and indices.min() < 0:
        raise ValueError("a label is not one of the model's classes")
    return indices


Score = Callable[[Case], float]


@dataclass(frozen=True)
class Metric:
    """One metric: its name (as in settings and metadata), how people write it, which way is better, the kinds it
    applies to and how it is computed."""

    name: str
    label: str
    higher_is_better: bool
    kinds: tuple[str, ...]
    compute: Score

    def score(self, y_true: np.ndarray, output: Output, problem: Problem | None = None) -> float:
        """The metric of these predictions (`problem`: None for a regression).

        Raises:
            ValueError: it is undefined on them (R² of one record, ROC AUC of one class), or a label is unknown.
        """
        return self.compute(Case(y_true, output, problem or Problem()))

    @property
    def threshold_setting(self) -> str:
        """The setting that bounds it: `min_test_<name>` when higher is better, else `max_test_<name>`."""
        return f"{'min' if self.higher_is_better else 'max'}_test_{self.name}"

    def worse_by(self, challenger: float, champion: float) -> float:
        """How much worse `challenger` is than `champion`, in the metric's units (negative: better)."""
        return champion - challenger if self.higher_is_better else challenger - champion


def _sk():
    """scikit-learn's metrics, imported when a regression metric is first computed (declaring settings needs only
    names)."""
    from sklearn import metrics

    return metrics


def _mse(case: Case) -> float:
    return float(_sk().mean_squared_error(case.y, case.out.values))


def _r2(case: Case) -> float:
    return float(_sk().r2_score(case.y, case.out.values)) if len(case.y) > 1 else math.nan


def class_indices(labels: np.ndarray, classes: tuple) -> np.ndarray:
    """Each label's position in `classes` (-1 for a label not among them)."""
    values = np.asarray(labels)
    if values.dtype.kind in "iu" and list(classes) == list(range(len(classes))):
        return values.astype("int64", copy=False)
    import pandas as pd

    return pd.Index(list(classes)).get_indexer(values)


def _log_loss(case: Case) -> float:
    probabilities = case.out.probabilities
    eps = np.finfo(probabilities.dtype).eps
    if probabilities.strides[0] == 0:  # one answer for every record (a baseline): by class counts
        counts = np.bincount(case.true_index, minlength=probabilities.shape[1])
        return float(-np.dot(counts, np.log(np.clip(probabilities[0], eps, 1 - eps))) / len(case.true_index))
    if probabilities.shape[1] == 2:
        chosen = np.where(case.true_index == 1, probabilities[:, 1], probabilities[:, 0])
    else:
        chosen = probabilities[np.arange(len(case.true_index)), case.true_index]
    return float(-np.mean(np.log(np.clip(chosen, eps, 1 - eps))))


# From this many records on, ROC AUC sorts in two threads (fewer: starting them costs more than it saves).
THREADED_SORT_RECORDS = 1 << 20


def area_under_roc(positive: np.ndarray, score: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half): ROC AUC. The two groups' scores
    are sorted apart, in two threads (numpy's sort releases the GIL), and each positive counts the negatives below
    it by binary search: at 8e6 records a third of one argsort of all of them.

    Raises:
        ValueError: only one class is present.
    """
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise ValueError("ROC AUC is undefined with one class only")
    if score.min() == score.max():
        return 0.5  # one score for all (a baseline): every pair ties
    if len(score) < THREADED_SORT_RECORDS:
        positives, negatives = np.sort(score[positive]), np.sort(score[~positive])
        below, up_to = (np.searchsorted(negatives, positives, side) for side in ("left", "right"))
    else:
        with ThreadPoolExecutor(2) as threads:
            positives, negatives = threads.map(np.sort, (score[positive], score[~positive]))
            below, up_to = threads.map(lambda side: np.searchsorted(negatives, positives, side), ("left", "right"))
    pairs = float(below.sum()) + 0.5 * float((up_to - below).sum())
    return pairs / (len(positives) * len(negatives))


def _roc_auc(case: Case) -> float:
    probabilities = case.out.probabilities
    if case.problem.kind == BINARY:
        return area_under_roc(case.true_index == 1, probabilities[:, 1])
    return float(np.mean([area_under_roc(case.true_index == column, probabilities[:, column])
                          for column in range(len(case.problem.classes))]))


def _balanced_accuracy(case: Case) -> float:
    counts = case.confusion
    support = counts.sum(axis=1)
    return float(np.mean(np.diag(counts)[support > 0] / support[support > 0]))


def _f1(case: Case) -> float:
    counts = case.confusion
    hits = np.diag(counts).astype("float64")
    denominator = counts.sum(axis=0) + counts.sum(axis=1)
    scores = np.divide(2 * hits, denominator, out=np.zeros_like(hits), where=denominator > 0)
    return float(scores[1]) if case.problem.kind == BINARY else float(np.mean(scores))


def _brier(case: Case) -> float:
    return float(np.mean((case.out.probabilities[:, 1] - (case.true_index == 1)) ** 2))


CLASSIFICATION = (BINARY, MULTICLASS)
# Regression metrics are scikit-learn's; the classification ones compute scikit-learn's definitions from class
# positions and one confusion matrix (tests compare them with scikit-learn): its functions took 8 s on 8e6
# records, most of it validating and re-encoding the labels for each metric.
METRICS: dict[str, Metric] = {metric.name: metric for metric in (
    Metric("mse", "MSE", False, (REGRESSION,), _mse),
    Metric("mae", "MAE", False, (REGRESSION,), lambda case: float(_sk().mean_absolute_error(case.y, case.out.values))),
    Metric("rmse", "RMSE", False, (REGRESSION,), lambda case: math.sqrt(_mse(case))),
    Metric("r2", "R²", True, (REGRESSION,), _r2),
    Metric("log_loss", "log loss", False, CLASSIFICATION, _log_loss),
    Metric("roc_auc", "ROC AUC", True, CLASSIFICATION, _roc_auc),
    Metric("accuracy", "accuracy", True, CLASSIFICATION,
           lambda case: float(np.trace(case.confusion) / case.confusion.sum())),
    Metric("balanced_accuracy", "balanced accuracy", True, CLASSIFICATION, _balanced_accuracy),
    Metric("f1", "F1", True, CLASSIFICATION, _f1),
    Metric("brier", "Brier score", False, (BINARY,), _brier),
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
    case = Case(y_true, output, problem)
    finite = output.is_finite()
    return Metrics({metric.name: _computed(metric, case) if finite else math.nan for metric in metrics_of(problem.kind)})


def _computed(metric: Metric, case: Case) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a metric undefined on these records is NaN
        try:
            return metric.compute(case)
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
    # Views of one row: the same answer for every record costs no memory.
    return Output(np.broadcast_to(labels[int(np.argmax(prior))], (rows,)), np.broadcast_to(prior, (rows, len(prior))))


@dataclass(frozen=True)
class Interval:
    """The challenger-minus-champion difference of a metric, with its paired bootstrap interval at `confidence`."""

    difference: float
    low: float
    high: float
    confidence: float
    resamples: int

    def describe(self) -> str:
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
    difference = _computed(metric, Case(y_true, challenger, problem)) - _computed(metric, Case(y_true, champion, problem))
    generator = np.random.default_rng(seed)
    size = min(len(y_true), BOOTSTRAP_RECORDS)
    deltas = []
    for _ in range(resamples):
        rows = generator.integers(0, len(y_true), size)
        truth = y_true[rows]
        delta = (_computed(metric, Case(truth, challenger.take(rows), problem))
                 - _computed(metric, Case(truth, champion.take(rows), problem)))
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
