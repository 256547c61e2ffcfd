"""Splitting records and fitting the regression model."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1 << 16


@dataclass(frozen=True)
class Split:
    """Row positions of the train and test parts of a set of records."""

    train_rows: np.ndarray
    test_rows: np.ndarray


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the true and predicted targets of both parts of its split."""

    model: Pipeline
    feature_columns: tuple[str, ...]
    split: Split
    y_train: np.ndarray
    y_train_predicted: np.ndarray
    y_test: np.ndarray
    y_test_predicted: np.ndarray
    epochs_run: int


def split_records(row_count: int, test_size: float, random_state: int) -> Split:
    """Choose train and test rows reproducibly.

    Raises:
        ValueError: either part would be empty.
    """
    test_count = int(np.ceil(row_count * test_size))
    if test_count < 1 or row_count - test_count < 1:
        raise ValueError(f"cannot split {row_count} records with test_size={test_size}: a part would be empty")
    train_rows, test_rows = train_test_split(
        np.arange(row_count), test_size=test_size, random_state=random_state
    )
    return Split(train_rows=train_rows, test_rows=test_rows)


def build_model(l2_regularization: float, epochs: int, random_state: int) -> Pipeline:
    """Standardised features into a multi-layer perceptron (unscaled inputs stall its training)."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", MLPRegressor(alpha=l2_regularization, max_iter=epochs, random_state=random_state)),
        ]
    )


def train_model(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    split: Split,
    model: Pipeline,
    max_in_memory_rows: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> TrainedModel:
    """Fit `model` on the train rows and predict both parts.

    Up to `max_in_memory_rows` train rows (or always, when it is None) the model is fitted in one call.
    Above it, the scaler and the network learn from chunks of `chunk_rows` rows (`partial_fit`), one
    pass over the train rows per epoch, so memory beyond the records stays at a few chunks.
    Predictions are always made chunk by chunk.

    Raises:
        KeyError: a feature or the target column is missing from `frame`.
    """
    # Views of the record columns: the split never copies a frame.
    columns = [frame[name].to_numpy() for name in feature_columns]
    target = frame[target_column].to_numpy()
    if max_in_memory_rows is None or len(split.train_rows) <= max_in_memory_rows:
        epochs_run = _fit_in_memory(model, columns, target, split.train_rows)
    else:
        epochs_run = _fit_in_chunks(model, columns, target, split.train_rows, chunk_rows)
    logger.info("trained on %d records for %d epochs", len(split.train_rows), epochs_run)
    return TrainedModel(
        model=model,
        feature_columns=tuple(feature_columns),
        split=split,
        y_train=target[split.train_rows].astype("float64"),
        y_train_predicted=predict_rows(model, columns, split.train_rows, chunk_rows),
        y_test=target[split.test_rows].astype("float64"),
        y_test_predicted=predict_rows(model, columns, split.test_rows, chunk_rows),
        epochs_run=epochs_run,
    )


def gather_rows(columns: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The given rows of per-column arrays as one (rows x columns) matrix."""
    matrix = np.empty((len(rows), len(columns)), dtype=np.result_type(*columns))
    for position, column in enumerate(columns):
        matrix[:, position] = column[rows]
    return matrix


def predict_rows(model: Pipeline, columns: Sequence[np.ndarray], rows: np.ndarray, chunk_rows: int) -> np.ndarray:
    """float64 predictions for `rows`, `chunk_rows` at a time (the network's activations are per row)."""
    predicted = np.empty(len(rows), dtype="float64")
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        predicted[start:start + len(chunk)] = model.predict(gather_rows(columns, chunk))
    return predicted


def _fit_in_memory(model: Pipeline, columns: Sequence[np.ndarray], target: np.ndarray, rows: np.ndarray) -> int:
    with warnings.catch_warnings():
        # Stopping at `epochs` before convergence is the user's choice, not a fault.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(gather_rows(columns, rows), target[rows])
    return int(model[-1].n_iter_)


def _fit_in_chunks(
    model: Pipeline, columns: Sequence[np.ndarray], target: np.ndarray, rows: np.ndarray, chunk_rows: int
) -> int:
    scaler, network = model[0], model[-1]
    for start in range(0, len(rows), chunk_rows):
        scaler.partial_fit(gather_rows(columns, rows[start:start + chunk_rows]))
    generator = np.random.default_rng(network.random_state)
    for epoch in range(network.max_iter):
        order = generator.permutation(rows)
        for start in range(0, len(order), chunk_rows):
            # Sorted rows read memory in order; the network shuffles each chunk itself.
            chunk = np.sort(order[start:start + chunk_rows])
            network.partial_fit(scaler.transform(gather_rows(columns, chunk), copy=False), target[chunk])
        logger.info("epoch %d of %d done", epoch + 1, network.max_iter)
    return network.max_iter
