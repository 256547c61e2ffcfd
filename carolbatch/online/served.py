"""A model version ready to serve: loaded from the registry, checked on its stored sample record."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from carolbatch.registry import CurrentModel

# How far a reloaded model's prediction of the check record may drift from the one made at deploy time
# (the same pipeline and libraries give the same bits; BLAS threading may change the last ones).
CHECK_RELATIVE_TOLERANCE = 1e-6


class ModelCheckError(RuntimeError):
    """A loaded model version does not predict what it predicted when it was deployed."""


@dataclass(frozen=True)
class ServedModel:
    """The model a server answers with, its feature order and its registry metadata."""

    version: str
    model: Any
    feature_columns: tuple[str, ...]
    metadata: Mapping[str, Any]

    def predict(self, matrix: np.ndarray) -> list[float]:
        """Predictions of the rows of `matrix` (columns in `feature_columns` order) as plain floats."""
        return self.model.predict(matrix).astype("float64").tolist()

    def describe(self) -> dict[str, Any]:
        """What GET /model reports."""
        metrics = self.metadata.get("metrics") or {}
        source = self.metadata.get("source") or {}
        return {
            "version": self.version,
            "created_at": self.metadata.get("created_at"),
            "test_metrics": metrics.get("test"),
            "feature_columns": list(self.feature_columns),
            "data_fingerprint": source.get("data_fingerprint"),
            # Why this version was deployed: the reason, and the comparison with the champion it replaced.
            "decision": self.metadata.get("decision"),
        }


def check_current_model(current: CurrentModel) -> ServedModel:
    """The loaded version, once it predicted its stored check record as it did at deploy time.

    A version published before check records existed is only asked for a finite prediction of an
    all-zero record.

    Raises:
        ModelCheckError: the prediction is missing, not finite, or differs from the stored one.
    """
    served = ServedModel(current.version, current.model, tuple(current.feature_columns), dict(current.metadata))
    record = current.metadata.get("check_record")
    problem = _check_problem(served, record)
    if problem:
        raise ModelCheckError(f"model version {served.version} refused: {problem}")
    return served


def _check_problem(served: ServedModel, record: Mapping[str, Any] | None) -> str:
    features = record["features"] if record else dict.fromkeys(served.feature_columns, 0.0)
    try:
        row = np.array([[float(features[name]) for name in served.feature_columns]], dtype="float64")
        predicted = served.predict(row)
    except Exception as error:
        return f"it cannot predict its check record: {type(error).__name__}: {error}"
    if len(predicted) != 1 or not math.isfinite(predicted[0]):
        return f"it predicts {predicted} for its check record, not one finite number"
    expected = float(record["prediction"]) if record else predicted[0]
    if not math.isclose(predicted[0], expected, rel_tol=CHECK_RELATIVE_TOLERANCE, abs_tol=1e-9):
        return f"it predicts {predicted[0]!r} for its check record, {expected!r} at deploy time"
    return ""
