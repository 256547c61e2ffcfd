"""A model version ready to serve: loaded from the registry, checked on its stored sample record."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carolbatch.online.compiled import CompiledModel, Records, UncompiledValue, compile_pipeline, matches_pipeline
from carolbatch.online.ranges import RangeCheck
from carolbatch.online.records import category_numbers, read_records
from carolbatch.problem import Problem
from carolbatch.registry import CurrentModel
from carolbatch.training.rows import model_features, predict_frame

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
    # Set by `check_current_model`, once per version: the compiled pipeline (None: the pipeline answers), the
    # training ranges, and each categorical column's known categories that are numbers.
    compiled: CompiledModel | None = field(default=None, compare=False)
    ranges: RangeCheck | None = field(default=None, compare=False)
    category_numbers: Mapping[str, Mapping[float, str]] = field(default_factory=dict, compare=False)

    @property
    def categorical_columns(self) -> tuple[str, ...]:
        """The features holding categories (text), as the version was trained."""
        return tuple((self.metadata.get("settings") or {}).get("categorical_columns") or ())

    @property
    def problem(self) -> Problem:
        """What the version predicts: a regression, or a classification with its classes."""
        return Problem.from_dict(self.metadata.get("problem"))

    def classify(self, frame: pd.DataFrame) -> tuple[list[Any], list[dict[str, float]]]:
        """A classifier's labels (the most probable class) and class probabilities (by class, as text) for the rows
        of `frame`.

        Raises:
            ValueError: a feature is missing, or the model refuses a value.
        """
        return self._labelled(np.asarray(self.model.predict_proba(model_features(self.model, frame)), dtype="float64"))

    def _labelled(self, probabilities: np.ndarray) -> tuple[list[Any], list[dict[str, float]]]:
        classes = self.problem.classes
        labels = [classes[column] for column in np.argmax(probabilities, axis=1)]
        names = [str(label) for label in classes]
        return labels, [dict(zip(names, row)) for row in probabilities.tolist()]

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return tuple(name for name in self.feature_columns if name not in self.categorical_columns)

    def predict_records(self, records: Records) -> list[float]:
        """Predictions of a request's records: the compiled pipeline's when there is one, else the pipeline's.

        Raises:
            ValueError: the model refuses a value.
        """
        if self.compiled is not None:
            try:
                return np.asarray(self.compiled.predict(records), dtype="float64").tolist()
            except UncompiledValue:
                pass
        return self.predict(records.frame())

    def classify_records(self, records: Records) -> tuple[list[Any], list[dict[str, float]]]:
        """A classifier's labels and class probabilities for a request's records (see `classify`)."""
        if self.compiled is not None:
            try:
                return self._labelled(self.compiled.predict_proba(records))
            except UncompiledValue:
                pass
        return self.classify(records.frame())

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
            "problem": self.problem.kind,
            "classes": list(self.problem.classes),
            "decision_metric": self.metadata.get("decision_metric") or "rmse",
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
    return _prepared(served, record)


def _prepared(served: ServedModel, record: Mapping[str, Any] | None) -> ServedModel:
    """`served` with its compiled pipeline (when it predicts as the pipeline does), ranges and category numbers."""
    ranges = served.metadata.get("input_ranges") or {}
    known = {name: category_numbers(values) for name, values in (ranges.get("categories") or {}).items()}
    compiled = compile_pipeline(served.model, served.feature_columns, served.categorical_columns)
    if compiled is not None and not matches_pipeline(compiled, served.model, _check_records(served, record, known),
                                                     served.problem.is_classification):
        compiled = None
    return dataclasses.replace(served, compiled=compiled, category_numbers=known,
                               ranges=RangeCheck.from_metadata(ranges, served.numeric_columns))


def _check_records(served: ServedModel, record: Mapping[str, Any] | None,
                   numbers: Mapping[str, Mapping[float, str]]) -> Records:
    """The check record, and it again with every feature blank and every category unknown: what the compiled
    pipeline must predict as the pipeline does."""
    features = dict(record["features"]) if record else dict.fromkeys(served.feature_columns, 0.0)
    blank = dict.fromkeys(served.feature_columns)
    unknown = {**features, **{name: "\x00not a category" for name in served.categorical_columns}}
    return read_records([features, blank, unknown], served.feature_columns, 3, served.categorical_columns, numbers)


def _feature_value(value: Any) -> Any:
    """A check record's value as training held it: a blank (null) is NaN, a category stays text."""
    return np.nan if value is None else value if isinstance(value, str) else float(value)


def _check_problem(served: ServedModel, record: Mapping[str, Any] | None) -> str:
    features = record["features"] if record else dict.fromkeys(served.feature_columns, 0.0)
    try:
        row = pd.DataFrame({name: np.array([_feature_value(features[name])],
                                           dtype=object if name in served.categorical_columns else "float64")
                            for name in served.feature_columns})
        if served.problem.is_classification:
            return _check_classifier(served, row, record)
        predicted = served.predict(row)
    except Exception as error:
        return f"it cannot predict its check record: {type(error).__name__}: {error}"
    if len(predicted) != 1 or not math.isfinite(predicted[0]):
        return f"it predicts {predicted} for its check record, not one finite number"
    expected = float(record["prediction"]) if record else predicted[0]
    if not math.isclose(predicted[0], expected, rel_tol=CHECK_RELATIVE_TOLERANCE, abs_tol=1e-9):
        return f"it predicts {predicted[0]!r} for its check record, {expected!r} at deploy time"
    return ""


def _check_classifier(served: ServedModel, row: pd.DataFrame, record: Mapping[str, Any] | None) -> str:
    """A classifier's probabilities of its check record: finite, summing to 1, and those it gave at deploy time."""
    _, (probabilities,) = served.classify(row)
    values = list(probabilities.values())
    if not all(math.isfinite(value) for value in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        return f"its class probabilities for its check record are {probabilities}, not finite ones summing to 1"
    expected = (record or {}).get("probabilities") or probabilities
    for name, value in probabilities.items():
        if not math.isclose(value, float(expected.get(name, math.nan)), rel_tol=CHECK_RELATIVE_TOLERANCE, abs_tol=1e-9):
            return (f"it gives class {name} probability {value!r} for its check record, {expected.get(name)!r} at "
                    "deploy time")
    return ""
