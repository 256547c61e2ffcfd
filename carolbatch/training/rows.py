"""Rows of the records as a model sees them: views of their columns, gathered into DataFrames (named columns)
or matrices on demand, and predictions made chunk by chunk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

Columns = Mapping[str, np.ndarray] | Sequence[np.ndarray]


@dataclass(frozen=True)
class TrainingRows:
    """Some rows of the records, as views of their feature columns and target: nothing is copied until a
    model asks for the features (`features`), so a model may read big data chunk by chunk (`rows` subsets).
    Columns given by name (a mapping) give DataFrames, so the model is fitted on named columns."""

    columns: Columns
    target: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def features(self, rows: np.ndarray | None = None) -> pd.DataFrame | np.ndarray:
        """The features of `rows` (default: all of these rows): a DataFrame, or a matrix for unnamed columns."""
        return gather_features(self.columns, self.rows if rows is None else rows)

    def targets(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The target of `rows` (default: all of these rows), in the records' type."""
        return self.target[self.rows if rows is None else rows]


def gather_rows(columns: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The given rows of per-column arrays as one (rows x columns) matrix."""
    matrix = np.empty((len(rows), len(columns)), dtype=np.result_type(*columns))
    for position, column in enumerate(columns):
        matrix[:, position] = column[rows]
    return matrix


def gather_frame(columns: Mapping[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """The given rows of named columns as a DataFrame (one new array per column)."""
    return pd.DataFrame({name: column[rows] for name, column in columns.items()}, copy=False)


def gather_features(columns: Columns, rows: np.ndarray) -> pd.DataFrame | np.ndarray:
    """The given rows as a DataFrame when the columns are named, else as a matrix."""
    return gather_frame(columns, rows) if isinstance(columns, Mapping) else gather_rows(columns, rows)


# Rows predicted at once: a model may hold per-row work for all of them (a network of width 128 holds
# 64 MiB of activations for 65,536 rows).
PREDICT_ROWS = 1 << 13


def predict_rows(model: Pipeline, columns: Columns, rows: np.ndarray, chunk_rows: int = PREDICT_ROWS) -> np.ndarray:
    """float64 predictions of `model` for `rows` of the per-column arrays `columns`, `chunk_rows` at a time.

    Named columns reach a model fitted on named columns as a DataFrame, and a model fitted on a bare
    matrix (a version deployed before models knew their column names) as a matrix in their order.

    Raises:
        ValueError: `chunk_rows` is not positive (or the model refuses the features).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if isinstance(columns, Mapping) and not hasattr(model, "feature_names_in_"):
        columns = list(columns.values())
    predicted = np.empty(len(rows), dtype="float64")
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        predicted[start:start + len(chunk)] = model.predict(gather_features(columns, chunk))
    return predicted


def predict_probabilities(model: Pipeline, columns: Columns, rows: np.ndarray, chunk_rows: int = PREDICT_ROWS
                          ) -> np.ndarray:
    """A classifier's class probabilities for `rows` (one column per class, in `model.classes_` order), float64,
    `chunk_rows` at a time.

    Raises:
        ValueError: `chunk_rows` is not positive (or the model refuses the features).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    predicted = np.empty((len(rows), len(model.classes_)), dtype="float64")
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        predicted[start:start + len(chunk)] = model.predict_proba(gather_features(columns, chunk))
    return predicted


def predict_frame(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """float64 predictions of `model` for a DataFrame of its features by name (as a float matrix in the frame's
    column order for a model fitted on a bare matrix, a version deployed before models knew column names).

    Raises:
        ValueError: a feature is missing, or the model refuses a value.
    """
    return np.asarray(model.predict(model_features(model, frame)), dtype="float64")


def model_features(model: Pipeline, frame: pd.DataFrame) -> pd.DataFrame | np.ndarray:
    """A frame of features as `model` takes them: by name, or as a float matrix in the frame's column order for a
    model fitted on a bare matrix (a version deployed before models knew column names)."""
    return frame if hasattr(model, "feature_names_in_") else frame.to_numpy(dtype="float64")


def mean_squared_error(y_true: np.ndarray, y_predicted: np.ndarray) -> float:
    """The validation loss: mean squared error, in float64 whatever the records' type."""
    difference = np.asarray(y_true, dtype="float64") - np.asarray(y_predicted, dtype="float64")
    return float(np.mean(difference * difference))
