"""Splitting records, and fitting the regression model epoch by epoch in memory or in chunks."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from carolbatch.training.epochs import (EpochReport, EpochsOutcome, StoppingRule, TrainingSummary, mean_squared_error,
                                    run_epochs)

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1 << 16
# Rows predicted at once: the network holds a layer's activations for all (64 MiB for 65,536 rows at width 128).
PREDICT_ROWS = 1 << 13


@dataclass(frozen=True)
class Split:
    """Row positions of the three disjoint parts of a set of records: the network fits `train_rows`,
    early stopping watches `validation_rows`, and `test_rows` are only ever predicted."""

    train_rows: np.ndarray
    validation_rows: np.ndarray
    test_rows: np.ndarray


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the true and predicted targets of its train and test rows, and how training went."""

    model: Pipeline
    feature_columns: tuple[str, ...]
    split: Split
    y_train: np.ndarray
    y_train_predicted: np.ndarray
    y_test: np.ndarray
    y_test_predicted: np.ndarray
    training: TrainingSummary

    epochs_run = property(lambda self: self.training.epochs_run)


def split_records(row_count: int, test_size: float, validation_size: float, random_state: int) -> Split:
    """Choose test rows, then carve the validation rows out of the rest, reproducibly.

    The test rows depend only on (`row_count`, `test_size`, `random_state`), whatever `validation_size`.

    Raises:
        ValueError: a part would be empty.
    """
    test_count = int(np.ceil(row_count * test_size))
    validation_count = int(np.ceil((row_count - test_count) * validation_size))
    if min(test_count, validation_count, row_count - test_count - validation_count) < 1:
        raise ValueError(f"cannot split {row_count} records with test_size={test_size} and "
                         f"validation_size={validation_size}: a part would be empty")
    rest, test_rows = train_test_split(np.arange(row_count), test_size=test_size, random_state=random_state)
    train_rows, validation_rows = train_test_split(rest, test_size=validation_size, random_state=random_state)
    return Split(train_rows=train_rows, validation_rows=validation_rows, test_rows=test_rows)


def build_model(hidden_layers: Sequence[int], l2_regularization: float, batch_size: int, random_state: int) -> Pipeline:
    """Standardised features into a multi-layer perceptron (unscaled inputs stall its training)."""
    network = MLPRegressor(hidden_layer_sizes=tuple(hidden_layers), alpha=l2_regularization, batch_size=batch_size,
                           random_state=random_state)
    return Pipeline([("scale", StandardScaler()), ("mlp", network)])


def train_model(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    split: Split,
    model: Pipeline,
    rule: StoppingRule,
    max_in_memory_rows: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainedModel:
    """Fit `model` on the train rows epoch by epoch until `rule` stops it, keep its best epoch, predict.

    Up to `max_in_memory_rows` train rows (or always, when it is None) the scaled train rows are held
    in memory. Above it, the scaler and the network learn from chunks of about `chunk_rows` rows
    (`partial_fit`), so memory beyond the records stays at a few chunks. Either way an epoch is one
    pass over the train rows, and predictions are made chunk by chunk. The test rows are only predicted.

    Raises:
        KeyError: a feature or the target column is missing from `frame`.
    """
    # Views of the record columns: the split never copies a frame.
    columns = [frame[name].to_numpy() for name in feature_columns]
    target = frame[target_column].to_numpy()
    started = time.perf_counter()
    if max_in_memory_rows is None or len(split.train_rows) <= max_in_memory_rows:
        fit_epoch, validation_loss = _epochs_in_memory(model, columns, target, split)
    else:
        chunk_rows = max(1, chunk_rows // model[-1].batch_size) * model[-1].batch_size
        fit_epoch, validation_loss = _epochs_in_chunks(model, columns, target, split, chunk_rows)
    # One BLAS thread: on small per-batch products more threads only wait for each other, and on a
    # shared 2-core machine they made an epoch up to 20x slower (bench/RESULTS.md, "Batch size").
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        # A last chunk smaller than one batch is a fine batch.
        warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger than sample size")
        outcome = run_epochs(model[-1], fit_epoch, validation_loss, rule, on_epoch)
    training = _summarize(outcome, model[-1], split, time.perf_counter() - started)
    return _predict_parts(model, feature_columns, columns, target, split, training)


def _predict_parts(model: Pipeline, feature_columns: Sequence[str], columns: list[np.ndarray], target: np.ndarray,
                   split: Split, training) -> TrainedModel:
    """The fitted model with the true and predicted targets of its train and test rows."""
    return TrainedModel(
        model=model,
        feature_columns=tuple(feature_columns),
        split=split,
        y_train=target[split.train_rows].astype("float64"),
        y_train_predicted=predict_rows(model, columns, split.train_rows),
        y_test=target[split.test_rows].astype("float64"),
        y_test_predicted=predict_rows(model, columns, split.test_rows),
        training=training,
    )


def _summarize(outcome: EpochsOutcome, network: MLPRegressor, split: Split, seconds: float) -> TrainingSummary:
    """The reproducible facts of training; its speed goes to the log line (and its `training_speed` extra)."""
    training = TrainingSummary(outcome.epochs_run, outcome.best_epoch, outcome.best_validation_loss,
                               outcome.stop_reason, network.batch_size, tuple(network.hidden_layer_sizes),
                               len(split.train_rows), len(split.validation_rows))
    speed = {"rows_per_second": outcome.rows_per_second,
             "fastest_epoch_rows_per_second": outcome.fastest_epoch_rows_per_second}
    logger.info("trained on %d records for %d epochs in %.1fs, kept epoch %d (validation loss %.4f): %s; "
                "%.0f rows/s per epoch, %.0f in the fastest", training.train_rows, training.epochs_run, seconds,
                training.best_epoch, training.best_validation_loss, training.stop_reason, *speed.values(),
                extra={"training_speed": speed})
    return training


def gather_rows(columns: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The given rows of per-column arrays as one (rows x columns) matrix."""
    matrix = np.empty((len(rows), len(columns)), dtype=np.result_type(*columns))
    for position, column in enumerate(columns):
        matrix[:, position] = column[rows]
    return matrix


def predict_rows(model: Pipeline, columns: Sequence[np.ndarray], rows: np.ndarray,
                 chunk_rows: int = PREDICT_ROWS) -> np.ndarray:
    """float64 predictions for `rows`, `chunk_rows` at a time (the network's activations are per row)."""
    predicted = np.empty(len(rows), dtype="float64")
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        predicted[start:start + len(chunk)] = model.predict(gather_rows(columns, chunk))
    return predicted


def _epochs_in_memory(model: Pipeline, columns: Sequence[np.ndarray], target: np.ndarray, split: Split):
    scaler, network = model[0], model[-1]
    features, y_train = scaler.fit_transform(gather_rows(columns, split.train_rows)), target[split.train_rows]
    y_validation = target[split.validation_rows]

    def fit_epoch() -> int:
        network.partial_fit(features, y_train)
        return len(y_train)

    return fit_epoch, lambda: mean_squared_error(y_validation, predict_rows(model, columns, split.validation_rows))


def _epochs_in_chunks(
    model: Pipeline, columns: Sequence[np.ndarray], target: np.ndarray, split: Split, chunk_rows: int
):
    scaler, network, rows = model[0], model[-1], split.train_rows
    for start in range(0, len(rows), chunk_rows):
        scaler.partial_fit(gather_rows(columns, rows[start:start + chunk_rows]))
    generator = np.random.default_rng(network.random_state)

    def fit_epoch() -> int:
        order = generator.permutation(rows)
        for start in range(0, len(order), chunk_rows):
            # Sorted rows read memory in order; the network shuffles each chunk itself.
            chunk = np.sort(order[start:start + chunk_rows])
            network.partial_fit(scaler.transform(gather_rows(columns, chunk), copy=False), target[chunk])
        return len(order)

    def validation_loss() -> float:
        predicted = predict_rows(model, columns, split.validation_rows)
        return mean_squared_error(target[split.validation_rows], predicted)

    return fit_epoch, validation_loss
