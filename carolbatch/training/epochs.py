"""Training epoch by epoch with early stopping on a validation share, and the progress it reports."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline

from carolbatch.training.contract import ProgressReport

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


def choose_batch_size(setting: str, train_rows: int) -> int:
    """The mini-batch size: `setting` when it is a number (as text or not), else the `auto` rule for `train_rows`.

    Never more than the rows there are (and at least 1).
    """
    if setting == "auto":
        setting = min(AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, train_rows // AUTO_BATCHES_PER_EPOCH))
    return max(1, min(int(setting), train_rows))


@dataclass
class EpochState:
    """Where the epoch loop stands after its last epoch. With the model being trained (and, when training
    by chunks, the generator that orders its rows), this is what training needs to go on from there."""

    epoch: int = 0
    best_epoch: int = 0
    best_validation_loss: float = math.inf
    best_estimator: Any = None  # a copy of the pipeline's last step as it was after its best epoch
    stale: int = 0  # epochs in a row without an improvement by more than tol
    validation_losses: list[float] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    fastest_rows_per_second: float = 0.0

    def record(self, fitted: int, took: float, loss: float, rule: StoppingRule, estimator: Any) -> None:
        """Count one more epoch that fitted `fitted` rows in `took` seconds and left `loss` on the validation rows."""
        self.epoch += 1
        self.rows, self.seconds = self.rows + fitted, self.seconds + took
        self.fastest_rows_per_second = max(self.fastest_rows_per_second, fitted / took if took > 0 else 0.0)
        self.validation_losses.append(loss)
        self.stale = 0 if loss < self.best_validation_loss - rule.tol * fitted / TOL_ROWS else self.stale + 1
        if loss < self.best_validation_loss:
            self.best_epoch, self.best_validation_loss = self.epoch, loss
            self.best_estimator = copy.deepcopy(estimator)

    def stop_reason(self, rule: StoppingRule) -> str | None:
        """Why training stops after this epoch, or None while it goes on."""
        if self.validation_losses and not math.isfinite(self.validation_losses[-1]):
            return f"validation loss is not finite at epoch {self.epoch}"
        if self.stale >= rule.n_iter_no_change:
            return (f"validation loss did not improve by more than tol={rule.tol:g} per {TOL_ROWS} rows "
                    f"for n_iter_no_change={rule.n_iter_no_change} epochs")
        if self.epoch >= rule.max_epochs:
            return f"reached model_epochs={rule.max_epochs}"
        return None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.nan

    def report(self, rule: StoppingRule) -> EpochReport:
        return EpochReport(self.epoch, rule.max_epochs, self.validation_losses[-1], self.best_validation_loss,
                           self.best_epoch)


def run_epochs(
    model: Pipeline, fit_epoch: Callable[[], int], validation_loss: Callable[[], float], rule: StoppingRule,
    on_epoch: Callable[[EpochReport], None] | None = None, state: EpochState | None = None,
    after_epoch: Callable[[EpochState], None] | None = None,
) -> tuple[EpochState, str]:
    """Train `model` one epoch at a time until `rule` stops it, then put back its last step as it was after
    the best epoch (the steps before it are fitted before the first epoch and do not change).

    Args:
        model: a scikit-learn Pipeline that `fit_epoch` fits in place.
        fit_epoch: one pass over the training rows; returns how many rows it fitted.
        validation_loss: the loss on the validation rows, now.
        rule: when to stop.
        on_epoch: called after every epoch.
        state: where an earlier, interrupted training stood (with `model` as it was then); None starts afresh.
        after_epoch: called after every epoch that training goes on from (e.g. to keep a checkpoint).

    Returns:
        The loop's state after its last epoch, and why it stopped.

    Raises:
        ValueError: `rule` allows no epoch.
    """
    if rule.max_epochs < 1:
        raise ValueError(f"model_epochs must be at least 1, not {rule.max_epochs}")
    state = state if state is not None else EpochState()
    reason = state.stop_reason(rule) if state.epoch else None
    while reason is None:
        started = time.perf_counter()
        fitted = fit_epoch()
        took = time.perf_counter() - started
        state.record(fitted, took, validation_loss(), rule, model[-1])
        if on_epoch is not None:
            on_epoch(state.report(rule))
        reason = state.stop_reason(rule)
        if reason is None and after_epoch is not None:
            after_epoch(state)
    if state.best_estimator is not None:
        model.steps[-1] = (model.steps[-1][0], state.best_estimator)
    return state, reason


class ProgressReporter:
    """Shows each epoch (or step) through `show` (at most every `show_interval` seconds, as it may be a call to a
    remote scheduler) and logs it at most every `log_interval` seconds."""

    def __init__(self, show: Callable[[ProgressReport], None], show_interval: float = 1.0,
                 log_interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._show, self._clock = show, clock
        self._intervals = {"show": show_interval, "log": log_interval}
        self._last: dict[str, float] = {}

    def _due(self, kind: str, now: float) -> bool:
        if kind in self._last and now - self._last[kind] < self._intervals[kind]:
            return False
        self._last[kind] = now
        return True

    def __call__(self, report: ProgressReport) -> None:
        now = self._clock()
        if self._due("show", now):
            self._show(report)
        if self._due("log", now):
            logger.info("training: %s", report.describe())
