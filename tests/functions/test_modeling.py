"""Splitting records, fitting in memory or in chunks, and predicting chunk by chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.functions.modeling import build_model, gather_rows, predict_rows, split_records, train_model
from app.functions.sources import read_records, validate_records
from tests.conftest import FEATURES, SAMPLE_DATA, default_settings


def linear_frame(rows: int, dtype: str = "float64") -> pd.DataFrame:
    generator = np.random.default_rng(3)
    features = generator.normal(size=(rows, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, 3.0]
    target = features @ np.array([1.0, -0.2, 5.0]) + generator.normal(scale=0.1, size=rows)
    return pd.DataFrame({"id": np.arange(rows), **{name: features[:, i].astype(dtype) for i, name in
                                                   enumerate(FEATURES)}, "y": target.astype(dtype)})


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def test_split_is_reproducible_and_covers_every_row_once():
    split = split_records(100, 0.2, random_state=1)
    assert len(split.test_rows) == 20 and len(split.train_rows) == 80
    assert sorted([*split.train_rows, *split.test_rows]) == list(range(100))
    np.testing.assert_array_equal(split_records(100, 0.2, 1).test_rows, split.test_rows)


def test_split_refuses_an_empty_part():
    with pytest.raises(ValueError, match="a part would be empty"):
        split_records(1, 0.5, 0)


def test_defaults_on_the_sample_reach_the_known_test_rmse():
    settings = default_settings()
    columns = [settings.id_column, *settings.feature_columns, settings.target_column]
    frame = read_records(SAMPLE_DATA, columns, columns[1:])
    records = validate_records(frame, settings.feature_columns, settings.target_column, settings.id_column, "sample")
    split = split_records(len(records.frame), settings.test_size, settings.random_state)
    model = build_model(settings.model_l2regularization, settings.model_epochs, settings.random_state)
    trained = train_model(records.frame, settings.feature_columns, settings.target_column, split, model,
                          settings.max_in_memory_rows)
    # 3.497 with the committed defaults, before and after training learned to stream chunks.
    assert rmse(trained.y_test, trained.y_test_predicted) == pytest.approx(3.497, abs=0.005)


def test_in_memory_fit_is_the_same_with_or_without_a_row_limit(tiny_frame):
    split = split_records(20, 0.2, 1)
    unlimited = train_model(tiny_frame, FEATURES, "y", split, build_model(0.001, 50, 1))
    limited = train_model(tiny_frame, FEATURES, "y", split, build_model(0.001, 50, 1), max_in_memory_rows=16)
    np.testing.assert_array_equal(unlimited.y_test_predicted, limited.y_test_predicted)
    assert unlimited.epochs_run == 50


def test_chunked_training_learns_and_counts_epochs_as_passes():
    frame = linear_frame(3000)
    split = split_records(len(frame), 0.2, 1)
    trained = train_model(frame, FEATURES, "y", split, build_model(0.001, 15, 1), max_in_memory_rows=500,
                          chunk_rows=256)
    assert trained.epochs_run == 15
    scaler = trained.model[0]
    np.testing.assert_allclose(scaler.mean_, frame.loc[split.train_rows, list(FEATURES)].mean().to_numpy())
    assert scaler.n_samples_seen_ == len(split.train_rows)
    in_memory = train_model(frame, FEATURES, "y", split, build_model(0.001, 15, 1))
    # The same passes over the data learn as much as one in-memory fit (a mean predictor scores std).
    assert rmse(trained.y_test, trained.y_test_predicted) < min(
        0.5 * frame["y"].std(), 1.2 * rmse(in_memory.y_test, in_memory.y_test_predicted)
    )
    np.testing.assert_array_equal(trained.y_test, frame["y"].to_numpy()[split.test_rows])


def test_float32_records_train_and_give_float64_results():
    frame = linear_frame(600, "float32")
    split = split_records(len(frame), 0.2, 1)
    trained = train_model(frame, FEATURES, "y", split, build_model(0.001, 5, 1), max_in_memory_rows=100,
                          chunk_rows=128)
    assert trained.y_train_predicted.dtype == np.float64 and trained.y_test.dtype == np.float64
    assert np.isfinite(trained.y_train_predicted).all()


def test_chunked_prediction_equals_one_call(tiny_frame):
    split = split_records(20, 0.2, 1)
    trained = train_model(tiny_frame, FEATURES, "y", split, build_model(0.001, 20, 1))
    columns = [tiny_frame[name].to_numpy() for name in FEATURES]
    rows = np.arange(20)[::-1]
    np.testing.assert_allclose(predict_rows(trained.model, columns, rows, chunk_rows=3),
                               trained.model.predict(tiny_frame[list(FEATURES)].to_numpy()[rows]), rtol=1e-12)


def test_gather_rows_builds_a_row_matrix_without_touching_the_columns(tiny_frame):
    columns = [tiny_frame[name].to_numpy() for name in FEATURES]
    matrix = gather_rows(columns, np.array([4, 0]))
    np.testing.assert_array_equal(matrix, tiny_frame[list(FEATURES)].to_numpy()[[4, 0]])
    assert matrix.flags.c_contiguous and not np.shares_memory(matrix, columns[0])


def test_training_leaves_the_frame_unchanged(tiny_frame):
    before = tiny_frame.copy()
    train_model(tiny_frame, FEATURES, "y", split_records(20, 0.2, 1), build_model(0.001, 5, 1),
                max_in_memory_rows=4, chunk_rows=4)
    pd.testing.assert_frame_equal(tiny_frame, before)


def test_missing_feature_is_a_key_error(tiny_frame):
    with pytest.raises(KeyError):
        train_model(tiny_frame, ("a", "nope"), "y", split_records(20, 0.2, 1), build_model(0.001, 5, 1))
