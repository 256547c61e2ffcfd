"""Training epoch by epoch with early stopping on a validation share, and the progress it reports."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

logger = logging.getLogger(__name__)

# The `auto` batch size (measured in bench/RESULTS.md, "Batch size"): scikit-learn's own default
# (200) on small data; on large data about 1/AUTO_BATCHES_PER_EPOCH of the rows, at most AUTO_MAX_BATCH.
# Larger batches barely raised the rows/s of an epoch (scikit-learn's per-row work dominates from a
# few hundred rows on) but cut the updates per epoch: at 1e7 records one epoch at 4096 reached test
# RMSE 1.53, at 1024 0.89, and at 1e6 ten epochs at 4096 1.49, at 720 0.81.
AUTO_MIN_BATCH = 200
AUTO_MAX_BATCH = 1024
AUTO_BATCHES_PER_EPOCH = 1000
# `tol` is per this many training rows: an epoch over many rows must gain more to count as an
# improvement, so early stopping ends a 1e7-record training in minutes, not hours (README, "Model").
TOL_ROWS = 1000


@dataclass(frozen=True)
class StoppingRule:
    """When training stops: after `max_epochs` passes, or once `n_iter_no_change` epochs in a row each
    lowered the best validation loss by no more than `tol` per TOL_ROWS rows trained in that epoch."""

    max_epochs: int
    n_iter_no_change: int
    tol: float


@dataclass(frozen=True)
class EpochReport:
    """Where training stands after one epoch."""

    epoch: int
    max_epochs: int
    validation_loss: float
    best_validation_loss: float
    best_epoch: int

    @property
    def percent(self) -> float:
        return 100.0 * self.epoch / self.max_epochs

    def describe(self) -> str:
        return (f"epoch {self.epoch} of at most {self.max_epochs}: validation loss {self.validation_loss:.4f}"
                f" (best {self.best_validation_loss:.4f} at epoch {self.best_epoch})")


@dataclass(frozen=True)
class EpochsOutcome:
    """What the epoch loop did; the loss is the mean squared error on the validation rows."""

    epochs_run: int
    best_epoch: int
    best_validation_loss: float
    stop_reason: str
    rows_per_second: float
    fastest_epoch_rows_per_second: float


@dataclass(frozen=True)
class TrainingSummary:
    """How training went, as kept with the model, its metrics and the run record. Only facts that the
    same inputs reproduce: timings go to the log, so a rerun writes the same bytes."""

    epochs_run: int
    best_epoch: int
    best_validation_loss: float
    stop_reason: str
    batch_size: int
    hidden_layers: tuple[int, ...]
    train_rows: int
    validation_rows: int

    def as_dict(self) -> dict:
        """Plain, JSON-friendly values."""
        return {**asdict(self), "hidden_layers": list(self.hidden_layers)}


def choose_batch_size(setting: str, train_rows: int) -> int:
    """The mini-batch size: `setting` when it is a number (as text or not), else the `auto` rule for `train_rows`.

    Never more than the rows there are (and at least 1).
    """
    if setting == "auto":
        setting = min(AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, train_rows // AUTO_BATCHES_PER_EPOCH))
    return max(1, min(int(setting), train_rows))


def run_epochs(
    network, fit_epoch: Callable[[], int], validation_loss: Callable[[], float], rule: StoppingRule,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> EpochsOutcome:
    """Train `network` one epoch at a time until `rule` stops it, then give it back its best epoch's weights.

    Args:
        network: a fitted-in-place scikit-learn MLP (its `coefs_` and `intercepts_` are snapshot).
        fit_epoch: one pass over the training rows; returns how many rows it fitted.
        validation_loss: the loss on the validation rows, now.
        rule: when to stop.
        on_epoch: called after every epoch.

    Returns:
        Epochs run, the best epoch and its validation loss, why training stopped, and the rows fitted
        per second of fitting (validation not counted), overall and in the fastest epoch.
    """
    best_loss, best_epoch, best_weights, stale = math.inf, 0, None, 0
    rows, seconds, epoch, fastest = 0, 0.0, 0, 0.0
    reason = f"reached model_epochs={rule.max_epochs}"
    for epoch in range(1, rule.max_epochs + 1):
        started = time.perf_counter()
        fitted = fit_epoch()
        took = time.perf_counter() - started
        rows, seconds, fastest = rows + fitted, seconds + took, max(fastest, fitted / took if took > 0 else 0.0)
        loss = validation_loss()
        stale = 0 if loss < best_loss - rule.tol * fitted / TOL_ROWS else stale + 1
        if loss < best_loss:
            best_loss, best_epoch, best_weights = loss, epoch, _copy_weights(network)
        if on_epoch is not None:
            on_epoch(EpochReport(epoch, rule.max_epochs, loss, best_loss, best_epoch))
        if not math.isfinite(loss):
            reason = f"validation loss is not finite at epoch {epoch}"
            break
        if stale >= rule.n_iter_no_change:
            reason = (f"validation loss did not improve by more than tol={rule.tol:g} per {TOL_ROWS} rows "
                      f"for n_iter_no_change={rule.n_iter_no_change} epochs")
            break
    if best_weights is not None:
        network.coefs_, network.intercepts_ = best_weights
    return EpochsOutcome(epoch, best_epoch, best_loss, reason, rows / seconds if seconds > 0 else math.nan, fastest)


def _copy_weights(network) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [array.copy() for array in network.coefs_], [array.copy() for array in network.intercepts_]


def mean_squared_error(y_true: np.ndarray, y_predicted: np.ndarray) -> float:
    """The validation loss: mean squared error, in float64 whatever the records' type."""
    difference = np.asarray(y_true, dtype="float64") - np.asarray(y_predicted, dtype="float64")
    return float(np.mean(difference * difference))


class ProgressReporter:
    """Shows each epoch through `show` (at most every `show_interval` seconds, as it may be a call to a
    remote scheduler) and logs it at most every `log_interval` seconds."""

    def __init__(self, show: Callable[[EpochReport], None], show_interval: float = 1.0,
                 log_interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._show, self._clock = show, clock
        self._intervals = {"show": show_interval, "log": log_interval}
        self._last: dict[str, float] = {}

    def _due(self, kind: str, now: float) -> bool:
        if kind in self._last and now - self._last[kind] < self._intervals[kind]:
            return False
        self._last[kind] = now
        return True

    def __call__(self, report: EpochReport) -> None:
        now = self._clock()
        if self._due("show", now):
            self._show(report)
        if self._due("log", now):
            logger.info("training: %s", report.describe())
