"""A model version ready to serve: loaded from the registry, checked on its stored sample record."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carolbatch.registry import CurrentModel
from carolbatch.training.rows import predict_frame

# How far a reloaded model's prediction of the check record may drift from the one made at deploy time
# (the same pipeline and libraries give the same bits; BLAS threading may change the last ones).
CHECK_RELATIVE_TOLERANCE = 1e-6


class ModelCheckError(RuntimeError):
    """A loaded model version does not predict what it predicted when it was deployed."""


@dataclass(frozen=True)
class ServedModel:
    """The model a server answers with, its features and its registry metadata."""

    version: str
    model: Any
    feature_columns: tuple[str, ...]
    metadata: Mapping[str, Any]

    @property
    def categorical_columns(self) -> tuple[str, ...]:
        """The features holding categories (text), as the version was trained."""
        return tuple((self.metadata.get("settings") or {}).get("categorical_columns") or ())

    def predict(self, frame: pd.DataFrame) -> list[float]:
        """Predictions of the rows of `frame` (its columns the features, by name) as plain floats.

        Raises:
            ValueError: a feature is missing, or the model refuses a value.
        """
        return predict_frame(self.model, frame).tolist()

    def describe(self) -> dict[str, Any]:
        """What GET /model reports."""
        metrics = self.metadata.get("metrics") or {}
        source = self.metadata.get("source") or {}
        return {
            "version": self.version,
            "created_at": self.metadata.get("created_at"),
            "test_metrics": metrics.get("test"),
            "feature_columns": list(self.feature_columns),
            "categorical_columns": list(self.categorical_columns),
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


def _feature_value(value: Any) -> Any:
    """A check record's value as training held it: a blank (null) is NaN, a category stays text."""
    return np.nan if value is None else value if isinstance(value, str) else float(value)


def _check_problem(served: ServedModel, record: Mapping[str, Any] | None) -> str:
    features = record["features"] if record else dict.fromkeys(served.feature_columns, 0.0)
    try:
        row = pd.DataFrame({name: np.array([_feature_value(features[name])],
                                           dtype=object if name in served.categorical_columns else "float64")
                            for name in served.feature_columns})
        predicted = served.predict(row)
    except Exception as error:
        return f"it cannot predict its check record: {type(error).__name__}: {error}"
    if len(predicted) != 1 or not math.isfinite(predicted[0]):
        return f"it predicts {predicted} for its check record, not one finite number"
    expected = float(record["prediction"]) if record else predicted[0]
    if not math.isclose(predicted[0], expected, rel_tol=CHECK_RELATIVE_TOLERANCE, abs_tol=1e-9):
        return f"it predicts {predicted[0]!r} for its check record, {expected!r} at deploy time"
    return ""
