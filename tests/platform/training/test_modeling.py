"""Splitting records, fitting a partial_fit pipeline epoch by epoch in memory or in chunks with early stopping
(EpochModel), predicting by chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.training.rows import gather_rows, predict_rows
from carolbatch.training.epochs import StoppingRule
from carolbatch.training.fitting import split_records, train_model
from carolbatch.training.partial_fit import CHUNK_ROWS, EpochModel
from tests.conftest import FEATURES


def small_model(rule: StoppingRule, random_state: int = 1, batch_size: int = 32, max_in_memory_rows: int | None = None,
                chunk_rows: int = CHUNK_ROWS, facts=None) -> EpochModel:
    """A scaled linear model trained epoch by epoch (the platform knows it only as a partial_fit pipeline)."""
    linear = SGDRegressor(alpha=0.001, random_state=random_state)
    return EpochModel(Pipeline([("scale", StandardScaler()), ("linear", linear)]), rule, batch_size, random_state,
                      max_in_memory_rows, chunk_rows, facts or {})


def epochs(count: int) -> StoppingRule:
    """Exactly `count` epochs: patience longer than the run."""
    return StoppingRule(count, count, 0.0)


def linear_frame(rows: int, dtype: str = "float64") -> pd.DataFrame:
    generator = np.random.default_rng(3)
    features = generator.normal(size=(rows, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, 3.0]
    target = features @ np.array([1.0, -0.2, 5.0]) + generator.normal(scale=0.1, size=rows)
    return pd.DataFrame({"id": np.arange(rows), **{name: features[:, i].astype(dtype) for i, name in
                                                   enumerate(FEATURES)}, "y": target.astype(dtype)})


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def test_split_is_reproducible_disjoint_and_covers_every_row_once():
    split = split_records(100, 0.2, 0.1, random_state=1)
    assert (len(split.train_rows), len(split.validation_rows), len(split.test_rows)) == (72, 8, 20)
    assert sorted([*split.train_rows, *split.validation_rows, *split.test_rows]) == list(range(100))
    np.testing.assert_array_equal(split_records(100, 0.2, 0.1, 1).validation_rows, split.validation_rows)


def test_test_rows_do_not_depend_on_the_validation_share():
    # The champion is scored on the challenger's test rows: changing validation_size must not move them.
    np.testing.assert_array_equal(split_records(100, 0.2, 0.1, 1).test_rows, split_records(100, 0.2, 0.3, 1).test_rows)


@pytest.mark.parametrize("rows, test_size, validation_size", [(1, 0.5, 0.1), (2, 0.5, 0.5), (10, 0.1, 0.99)])
def test_split_refuses_an_empty_part(rows, test_size, validation_size):
    with pytest.raises(ValueError, match="a part would be empty"):
        split_records(rows, test_size, validation_size, 0)


def test_in_memory_fit_is_the_same_with_or_without_a_row_limit(tiny_frame):
    split = split_records(20, 0.2, 0.1, 1)
    unlimited = train_model(tiny_frame, FEATURES, "y", split, small_model(epochs(50)))
    limited = train_model(tiny_frame, FEATURES, "y", split, small_model(epochs(50), max_in_memory_rows=14))
    np.testing.assert_array_equal(unlimited.y_test_predicted, limited.y_test_predicted)
    assert unlimited.epochs_run == 50


def test_chunked_training_learns_and_counts_epochs_as_passes():
    frame = linear_frame(3000)
    split = split_records(len(frame), 0.2, 0.1, 1)
    trained = train_model(frame, FEATURES, "y", split,
                          small_model(epochs(15), max_in_memory_rows=500, chunk_rows=256))
    assert trained.epochs_run == 15
    scaler = trained.model[0]
    np.testing.assert_allclose(scaler.mean_, frame.loc[split.train_rows, list(FEATURES)].mean().to_numpy())
    assert scaler.n_samples_seen_ == len(split.train_rows)
    in_memory = train_model(frame, FEATURES, "y", split, small_model(epochs(15)))
    # The same passes over the data learn as much as one in-memory fit (a mean predictor scores std).
    assert rmse(trained.y_test, trained.y_test_predicted) < min(
        0.5 * frame["y"].std(), 1.2 * rmse(in_memory.y_test, in_memory.y_test_predicted)
    )
    np.testing.assert_array_equal(trained.y_test, frame["y"].to_numpy()[split.test_rows])


def test_float32_records_train_and_give_float64_results():
    frame = linear_frame(600, "float32")
    split = split_records(len(frame), 0.2, 0.1, 1)
    trained = train_model(frame, FEATURES, "y", split,
                          small_model(epochs(5), max_in_memory_rows=100, chunk_rows=128))
    assert trained.y_train_predicted.dtype == np.float64 and trained.y_test.dtype == np.float64
    assert np.isfinite(trained.y_train_predicted).all()


def test_chunked_prediction_equals_one_call(tiny_frame):
    split = split_records(20, 0.2, 0.1, 1)
    trained = train_model(tiny_frame, FEATURES, "y", split, small_model(epochs(20)))
    columns = {name: tiny_frame[name].to_numpy() for name in FEATURES}
    rows = np.arange(20)[::-1]
    np.testing.assert_allclose(predict_rows(trained.model, columns, rows, chunk_rows=3),
                               trained.model.predict(tiny_frame.loc[rows, list(FEATURES)]), rtol=1e-12)


def test_gather_rows_builds_a_row_matrix_without_touching_the_columns(tiny_frame):
    columns = [tiny_frame[name].to_numpy() for name in FEATURES]
    matrix = gather_rows(columns, np.array([4, 0]))
    np.testing.assert_array_equal(matrix, tiny_frame[list(FEATURES)].to_numpy()[[4, 0]])
    assert matrix.flags.c_contiguous and not np.shares_memory(matrix, columns[0])


def test_training_leaves_the_frame_unchanged(tiny_frame):
    before = tiny_frame.copy()
    train_model(tiny_frame, FEATURES, "y", split_records(20, 0.2, 0.1, 1),
                small_model(epochs(5), batch_size=4, max_in_memory_rows=4, chunk_rows=4))
    pd.testing.assert_frame_equal(tiny_frame, before)


def test_missing_feature_is_a_key_error(tiny_frame):
    with pytest.raises(KeyError):
        train_model(tiny_frame, ("a", "nope"), "y", split_records(20, 0.2, 0.1, 1), small_model(epochs(5)))


@pytest.mark.parametrize("max_in_memory_rows", [None, 100])
def test_training_stops_early_in_both_modes_and_never_sees_the_test_rows(max_in_memory_rows):
    frame = linear_frame(600)
    split = split_records(len(frame), 0.2, 0.1, 1)
    # Fitting or stopping on a test row would raise or turn a loss into NaN; scaling on one moves the mean.
    frame.loc[split.test_rows, "y"] = np.nan
    trained = train_model(frame, FEATURES, "y", split, small_model(
        StoppingRule(200, 2, 1e6), max_in_memory_rows=max_in_memory_rows, chunk_rows=64))
    assert (trained.epochs_run, trained.training["stop_reason"]) == (3, (
        "validation loss did not improve by more than tol=1e+06 per 1000 rows for n_iter_no_change=2 epochs"))
    assert np.isfinite(trained.training["best_validation_loss"]) and np.isfinite(trained.y_train_predicted).all()
    np.testing.assert_allclose(trained.model[0].mean_, frame.loc[split.train_rows, list(FEATURES)].mean().to_numpy())
    # The kept model is the best epoch's: its validation loss is the one reported.
    columns = {name: frame[name].to_numpy() for name in FEATURES}
    predicted = predict_rows(trained.model, columns, split.validation_rows, 64)
    assert rmse(frame["y"].to_numpy()[split.validation_rows], predicted) ** 2 == pytest.approx(
        trained.training["best_validation_loss"])


def test_training_reports_each_epoch_and_its_facts(caplog):
    frame = linear_frame(300)
    reports = []
    with caplog.at_level("INFO", logger="carolbatch.training.partial_fit"):
        trained = train_model(frame, FEATURES, "y", split_records(300, 0.2, 0.1, 1),
                              small_model(epochs(4), facts={"width": 16}), on_progress=reports.append)
    assert [report.epoch for report in reports] == [1, 2, 3, 4]
    assert reports[-1].describe().startswith("epoch 4 of at most 4: validation loss ")
    facts = trained.training
    assert list(facts) == ["epochs_run", "best_epoch", "best_validation_loss", "stop_reason", "width", "train_rows",
                           "validation_rows"]
    assert (facts["epochs_run"], facts["width"], facts["train_rows"], facts["validation_rows"]) == (4, 16, 216, 24)
    assert trained.validation_losses == tuple(report.validation_loss for report in reports)
    assert facts["best_validation_loss"] == min(trained.validation_losses)
    # The speed is logged (with the numbers as an extra for JSON logs), never kept: targets stay reproducible.
    (line,) = [record for record in caplog.records if record.getMessage().startswith("trained on 216 records")]
    assert line.training_speed["fastest_epoch_rows_per_second"] >= line.training_speed["rows_per_second"] > 0
    assert "rows/s per epoch" in line.getMessage()


def test_chunks_are_whole_batches_and_a_step_without_partial_fit_is_fitted_on_a_sample(monkeypatch):
    from sklearn.preprocessing import FunctionTransformer

    from carolbatch.training import partial_fit

    frame = linear_frame(300)
    split = split_records(300, 0.2, 0.1, 1)
    assert small_model(epochs(1), batch_size=32, chunk_rows=100)._whole_batches() == 96
    assert small_model(epochs(1), batch_size=200, chunk_rows=100)._whole_batches() == 200
    linear = SGDRegressor(random_state=0)
    seen = []

    class Absolute(FunctionTransformer):  # no partial_fit
        def fit(self, features, target=None):
            seen.append(len(features))
            return super().fit(features, target)

    monkeypatch.setattr(partial_fit, "PREPARE_ROWS", 50)
    model = EpochModel(Pipeline([("abs", Absolute(np.abs)), ("linear", linear)]), epochs(2), 16,
                       max_in_memory_rows=100)
    assert train_model(frame, FEATURES, "y", split, model).epochs_run == 2
    assert seen == [50]  # fitted once on the first 50 (shuffled) train rows, then only transforming chunks
    # In memory the same pipeline trains: its steps before the last are fitted on all the train rows.
    assert train_model(frame, FEATURES, "y", split, EpochModel(model.pipeline, epochs(2), 16)).epochs_run == 2


def test_an_epoch_model_refuses_a_last_step_without_partial_fit_and_empty_train_rows(tiny_frame):
    from sklearn.linear_model import LinearRegression

    split = split_records(20, 0.2, 0.1, 1)
    with pytest.raises(ValueError, match="LinearRegression has no partial_fit: train it with OneStepModel"):
        train_model(tiny_frame, FEATURES, "y", split, EpochModel(Pipeline([("linear", LinearRegression())]),
                                                                  epochs(2)))
    empty = split.__class__(np.array([], dtype=int), split.validation_rows, split.test_rows)
    with pytest.raises(ValueError, match="cannot fit a model on 0 train rows"):
        train_model(tiny_frame, FEATURES, "y", empty, small_model(epochs(2)))


def test_an_epoch_model_fits_a_fresh_clone_each_time(tiny_frame):
    model = small_model(epochs(10))
    split = split_records(20, 0.2, 0.1, 1)
    first, second = (train_model(tiny_frame, FEATURES, "y", split, model) for _ in range(2))
    np.testing.assert_array_equal(first.y_test_predicted, second.y_test_predicted)
    assert first.model is not second.model and not hasattr(model.pipeline[-1], "coef_")


def test_predict_rows_refuses_an_empty_chunk(tiny_frame):
    trained = train_model(tiny_frame, FEATURES, "y", split_records(20, 0.2, 0.1, 1), small_model(epochs(2)))
    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        predict_rows(trained.model, [tiny_frame[name].to_numpy() for name in FEATURES], np.arange(3), chunk_rows=0)
