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
) -> TrainedModel:
    """Fit `model` on the train rows and predict both parts.

    Raises:
        KeyError: a feature or the target column is missing from `frame`.
    """
    features = frame[list(feature_columns)].to_numpy(dtype="float64")
    target = frame[target_column].to_numpy(dtype="float64")
    with warnings.catch_warnings():
        # Stopping at `epochs` before convergence is the user's choice, not a fault.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features[split.train_rows], target[split.train_rows])
    epochs_run = int(model[-1].n_iter_)
    logger.info("trained on %d records for %d epochs", len(split.train_rows), epochs_run)
    return TrainedModel(
        model=model,
        feature_columns=tuple(feature_columns),
        split=split,
        y_train=target[split.train_rows],
        y_train_predicted=model.predict(features[split.train_rows]),
        y_test=target[split.test_rows],
        y_test_predicted=model.predict(features[split.test_rows]),
        epochs_run=epochs_run,
    )
