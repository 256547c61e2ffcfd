"""Rows of the records as a model sees them: views of their columns, gathered into matrices on demand, and
predictions made chunk by chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class TrainingRows:
    """Some rows of the records, as views of their feature columns and target: nothing is copied until a
    model asks for a matrix (`features`), so a model may read big data chunk by chunk (`rows` subsets)."""

    columns: Sequence[np.ndarray]
    target: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def features(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The (rows x features) matrix of `rows` (default: all of these rows)."""
        return gather_rows(self.columns, self.rows if rows is None else rows)

    def targets(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The target of `rows` (default: all of these rows), in the records' type."""
        return self.target[self.rows if rows is None else rows]


def gather_rows(columns: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The given rows of per-column arrays as one (rows x columns) matrix."""
    matrix = np.empty((len(rows), len(columns)), dtype=np.result_type(*columns))
    for position, column in enumerate(columns):
        matrix[:, position] = column[rows]
    return matrix


# Rows predicted at once: a model may hold per-row work for all of them (a network of width 128 holds
# 64 MiB of activations for 65,536 rows).
PREDICT_ROWS = 1 << 13


def predict_rows(model: Pipeline, columns: Sequence[np.ndarray], rows: np.ndarray,
                 chunk_rows: int = PREDICT_ROWS) -> np.ndarray:
    """float64 predictions of `model` for `rows` of the per-column arrays `columns`, `chunk_rows` at a time.

    Raises:
        ValueError: `chunk_rows` is not positive (or the model refuses the features).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    predicted = np.empty(len(rows), dtype="float64")
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start:start + chunk_rows]
        predicted[start:start + len(chunk)] = model.predict(gather_rows(columns, chunk))
    return predicted


def mean_squared_error(y_true: np.ndarray, y_predicted: np.ndarray) -> float:
    """The validation loss: mean squared error, in float64 whatever the records' type."""
    difference = np.asarray(y_true, dtype="float64") - np.asarray(y_predicted, dtype="float64")
    return float(np.mean(difference * difference))
