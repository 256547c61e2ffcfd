"""The epoch loop's stopping rule, its state, the kept best epoch, the batch size rule and throttled progress."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline

from carolbatch.training.epochs import (
    AUTO_MAX_BATCH, EpochReport, EpochState, ProgressReporter, StoppingRule, choose_batch_size, run_epochs,
)
from carolbatch.training.contract import Step


def model_and_epoch(rows: int = 50):
    """A real linear model in a pipeline and one epoch of fitting it on random rows; returns (pipeline, fit_epoch)."""
    generator = np.random.default_rng(0)
    features, target = generator.normal(size=(rows, 3)), generator.normal(size=rows)
    pipeline = Pipeline([("linear", SGDRegressor(random_state=0))])

    def fit_epoch() -> int:
        pipeline[-1].partial_fit(features, target)
        return rows

    return pipeline, fit_epoch


def scripted(losses):
    values = iter(losses)
    return lambda: next(values)


def test_stops_after_n_iter_no_change_epochs_and_restores_the_best_weights():
    pipeline, fit_epoch = model_and_epoch()
    snapshots = []
    state, reason = run_epochs(pipeline, fit_epoch, scripted([5.0, 3.0, 4.0, 3.5, 6.0, 1.0]),
                               StoppingRule(100, 3, 0.0), lambda report: snapshots.append(pipeline[-1].coef_.copy()))
    assert (state.epoch, state.best_epoch, state.best_validation_loss) == (5, 2, 3.0)
    assert state.validation_losses == [5.0, 3.0, 4.0, 3.5, 6.0] and state.stale == 3
    assert "n_iter_no_change=3" in reason
    np.testing.assert_array_equal(pipeline[-1].coef_, snapshots[1])
    assert not np.array_equal(pipeline[-1].coef_, snapshots[-1])


def test_model_epochs_is_the_upper_bound():
    pipeline, fit_epoch = model_and_epoch()
    state, reason = run_epochs(pipeline, fit_epoch, scripted([3.0, 2.0, 1.0]), StoppingRule(3, 10, 0.0))
    assert (state.epoch, state.best_epoch, reason) == (3, 3, "reached model_epochs=3")
    assert state.rows_per_second > 0 and state.rows == 150


def test_a_rule_without_epochs_is_refused():
    pipeline, fit_epoch = model_and_epoch()
    with pytest.raises(ValueError, match="model_epochs must be at least 1, not 0"):
        run_epochs(pipeline, fit_epoch, scripted([]), StoppingRule(0, 10, 0.0))


def test_the_state_says_when_to_stop():
    rule, state = StoppingRule(3, 2, 0.0), EpochState()
    assert state.stop_reason(rule) is None
    state.record(10, 0.5, 2.0, rule, estimator=[1])
    state.record(10, 0.0, 2.0, rule, estimator=[2])
    assert (state.best_epoch, state.best_estimator, state.stale, state.fastest_rows_per_second) == (1, [1], 1, 20.0)
    assert state.stop_reason(rule) is None
    state.record(10, 0.5, 1.0, rule, estimator=[3])
    assert state.stop_reason(rule) == "reached model_epochs=3" and state.report(rule).best_epoch == 3


@pytest.mark.parametrize("rows, stops", [(1000, True), (100, False)])
def test_tol_is_per_thousand_rows_of_the_epoch(rows, stops):
    # Each epoch gains 0.4; with tol=0.5 that is too little for an epoch of 1000 rows, enough for one of 100.
    pipeline, fit_epoch = model_and_epoch(rows)
    state, _ = run_epochs(pipeline, fit_epoch, scripted([10.0, 9.6, 9.2, 8.8]), StoppingRule(4, 2, 0.5))
    assert (state.epoch == 3) is stops and state.best_epoch == state.epoch


def test_a_loss_that_is_not_finite_stops_training_with_the_best_finite_epoch():
    pipeline, fit_epoch = model_and_epoch()
    reports = []
    state, reason = run_epochs(pipeline, fit_epoch, scripted([2.0, float("nan")]), StoppingRule(10, 5, 0.0),
                               reports.append)
    assert (state.epoch, state.best_epoch, reason) == (2, 1, "validation loss is not finite at epoch 2")
    assert len(reports) == 2


@pytest.mark.parametrize("setting, rows, expected", [
    ("auto", 50, 50), ("auto", 363, 200), ("auto", 720_000, 720), ("auto", 7_200_000, AUTO_MAX_BATCH),
    ("64", 1000, 64), (64, 10, 10),
])
def test_batch_size(setting, rows, expected):
    assert choose_batch_size(setting, rows) == expected


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_shown_every_second_and_logged_every_ten(caplog):
    clock, shown = Clock(), []
    reporter = ProgressReporter(shown.append, clock=clock)
    with caplog.at_level(logging.INFO, logger="carolbatch.training.epochs"):
        for epoch in range(1, 26):
            clock.now = epoch * 0.5
            reporter(EpochReport(epoch, 100, 1.0 / epoch, 1.0 / epoch, epoch))
    assert [report.epoch for report in shown] == list(range(1, 26, 2))
    logged = [record.getMessage() for record in caplog.records]
    assert logged == [f"training: epoch {epoch} of at most 100: validation loss {1 / epoch:.4f} (best "
                      f"{1 / epoch:.4f} at epoch {epoch})" for epoch in (1, 21)]
    assert shown[0].percent == 1.0


def test_progress_of_a_model_without_epochs_is_one_step(caplog):
    shown = []
    with caplog.at_level(logging.INFO, logger="carolbatch.training.epochs"):
        ProgressReporter(shown.append)(Step(1, 1, "fitted"))
    assert [(report.percent, report.describe()) for report in shown] == [(100.0, "step 1 of 1: fitted")]
    assert caplog.records[0].getMessage() == "training: step 1 of 1: fitted"
