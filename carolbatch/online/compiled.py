"""A fitted Pipeline evaluated on plain arrays, for the online app: the per-request cost is the model's arithmetic.

`Pipeline.predict` on a one-row DataFrame spends most of its time checking and converting its input at every
step (a ColumnTransformer splits the frame by name, each step validates it again). Here the column order is
resolved once per model version and each step is evaluated in the cheapest exact way:

- the first step, a ColumnTransformer of the features by name: an imputer of numeric columns fills blanks
  with its fitted statistics; an encoder of categorical columns (a one-hot encoder, after the text step of
  `prepare_columns`) becomes a table from each known category (and a blank, and an unknown one) to its
  output, computed by the encoder itself when the model is compiled;
- a PowerTransformer (Yeo-Johnson): scipy's formula for all columns at once, then its standardisation;
  a StandardScaler: its mean and scale; any other step fitted on a matrix: its own `transform`;
- the final step: its own `predict` (and `predict_proba`, when it has one) on the prepared matrix; a network
  regressor (MLPRegressor, bare or in StandardisedTarget): its forward pass, the matrix being checked already.

A pipeline holding anything else is not compiled (`compile_pipeline` gives None) and is served as it is; a
compiled one is used only once it predicts its sample records as the pipeline does (`matches_pipeline`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PowerTransformer, StandardScaler

from carolbatch.training.target_scaling import StandardisedTarget

# How far a compiled prediction may be from the pipeline's (relative): the same arithmetic in another order.
RELATIVE_TOLERANCE = 1e-9
# A category no model was trained on, to learn what the encoder does with an unknown one.
_UNSEEN = "\x00unseen category\x00"

Step = Callable[[np.ndarray], np.ndarray]


class UncompiledValue(LookupError):
    """A request holds a value the compiled tables do not cover (a category the encoder refuses): the
    pipeline itself must answer it."""


@dataclass(frozen=True)
class Records:
    """A request's records as arrays: numeric features (float64, NaN a blank) in the order of `numeric`, and
    each categorical feature's values (text, None a blank)."""

    numeric: np.ndarray
    categories: Mapping[str, Sequence[Any]]
    feature_columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.numeric)

    def frame(self) -> pd.DataFrame:
        """The records as a DataFrame of the features by name (float64 numbers, object categories, NaN blanks)."""
        names = [name for name in self.feature_columns if name not in self.categories]
        columns = {name: self.numeric[:, position] for position, name in enumerate(names)}
        for name, values in self.categories.items():
            columns[name] = np.array([np.nan if value is None else value for value in values], dtype=object)
        return pd.DataFrame({name: columns[name] for name in self.feature_columns}, copy=False)


@dataclass(frozen=True)
class CompiledModel:
    """A pipeline's preparation as array steps, and its final estimator."""

    prepare: Callable[[Records], np.ndarray]
    steps: tuple[Step, ...]
    final: Any

    def features(self, records: Records) -> np.ndarray:
        matrix = self.prepare(records)
        for step in self.steps:
            matrix = step(matrix)
        return matrix

    def predict(self, records: Records) -> np.ndarray:
        """What `pipeline.predict` gives for the records."""
        return np.asarray(self.final.predict(self.features(records)))

    def predict_proba(self, records: Records) -> np.ndarray:
        """What `pipeline.predict_proba` gives for the records (AttributeError when the final step has none)."""
        return np.asarray(self.final.predict_proba(self.features(records)), dtype="float64")


def compile_pipeline(model: Any, feature_columns: Sequence[str], categorical_columns: Sequence[str]
                     ) -> CompiledModel | None:
    """The compiled form of a fitted `model`, or None when it holds a step this module does not know."""
    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return None
    before = [step for _, step in model.steps[:-1] if step is not None and not isinstance(step, str)]
    if not before:
        return None
    first, *middle = before
    if isinstance(first, ColumnTransformer):
        prepare = _compile_first(first, tuple(feature_columns), tuple(categorical_columns))
    elif not categorical_columns and list(getattr(first, "feature_names_in_", feature_columns)) == list(feature_columns):
        prepare, middle = _numeric_matrix, [_without_names(first), *middle]  # fitted on the features in order
    else:
        return None
    steps = [_compile_step(step) for step in middle]
    if prepare is None or any(step is None for step in steps):
        return None
    return CompiledModel(prepare, tuple(steps), _compile_final(model.steps[-1][1]))


def _numeric_matrix(records: Records) -> np.ndarray:
    return records.numeric


def _without_names(step: Any) -> Any:
    """A first step fitted on a DataFrame of the features: compiled below when its arithmetic does not need the
    names (a scaler, a power transform), else left out (None)."""
    return step if isinstance(step, (StandardScaler, PowerTransformer)) or not hasattr(step, "feature_names_in_") \
        else None


def _compile_first(step: Any, features: tuple[str, ...], categorical: tuple[str, ...]
                   ) -> Callable[[Records], np.ndarray] | None:
    if not isinstance(step, ColumnTransformer) or getattr(step, "sparse_output_", False):
        return None
    numeric = [name for name in features if name not in categorical]
    parts = []
    for name, transformer, columns in step.transformers_:
        columns = list(np.atleast_1d(columns)) if not isinstance(columns, slice) else None
        if transformer == "drop" or columns == []:
            continue
        if columns is None or not all(isinstance(column, str) for column in columns):
            return None
        part = (_imputer(transformer, [numeric.index(c) for c in columns]) if set(columns) <= set(numeric)
                else _encoder(transformer, columns) if set(columns) <= set(categorical) else None)
        if part is None:
            return None
        parts.append((step.output_indices_[name], part))
    width = max((where.stop for where, _ in parts), default=0)

    def prepare(records: Records) -> np.ndarray:
        matrix = np.empty((len(records), width), dtype="float64")
        for where, part in parts:
            matrix[:, where] = part(records)
        return matrix
    return prepare


def _imputer(imputer: Any, positions: list[int]) -> Callable[[Records], np.ndarray] | None:
    """A SimpleImputer of numeric columns: blanks (NaN) become its statistics."""
    if not isinstance(imputer, SimpleImputer) or imputer.add_indicator or not _is_nan(imputer.missing_values):
        return None
    fill = np.asarray(imputer.statistics_, dtype="float64")
    if np.isnan(fill).any():  # a column without values is dropped, not filled: not compiled
        return None
    index = np.array(positions)

    def impute(records: Records) -> np.ndarray:
        values = records.numeric[:, index]
        blank = np.isnan(values)
        return np.where(blank, fill, values) if blank.any() else values
    return impute


def _encoder(transformer: Any, columns: list[str]) -> Callable[[Records], np.ndarray] | None:
    """An encoder of categorical columns, as one table per column from category to output, made by the encoder."""
    encoder = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
    widths = getattr(encoder, "_n_features_outs", None)
    if not isinstance(encoder, OneHotEncoder) or widths is None or len(widths) != len(columns):
        return None
    tables = [_category_table(transformer, columns, position, widths) for position in range(len(columns))]

    def encode(records: Records) -> np.ndarray:
        blocks = [table.look_up(records.categories[name]) for name, table in zip(columns, tables)]
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]
    return encode


def _category_table(transformer: Any, columns: list[str], position: int, widths: list[int]) -> _CategoryTable:
    """Each known category of one column (None for a blank, _UNSEEN for an unknown one) -> its output block."""
    encoder = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
    known = [value for value in encoder.categories_[position] if not _is_nan(value)]
    values = [*known, None, _UNSEEN]
    start = sum(widths[:position])
    frame = pd.DataFrame({name: [encoder.categories_[index][0]] * len(values) for index, name in enumerate(columns)})
    frame[columns[position]] = np.array([np.nan if value is None else value for value in values], dtype=object)
    table = {}
    for value, row in zip(values, range(len(values))):
        try:
            output = np.asarray(transformer.transform(frame.iloc[[row]]), dtype="float64")
        except ValueError:  # the encoder refuses this value (handle_unknown="error"): the pipeline answers it
            continue
        table[value] = output[0, start:start + widths[position]]
    return _CategoryTable({value: row for row, value in enumerate(table)}, np.stack(list(table.values())))


@dataclass(frozen=True)
class _CategoryTable:
    """One categorical column's outputs: `rows[value]` is the row of `outputs` for a category."""

    rows: dict[Any, int]
    outputs: np.ndarray

    def look_up(self, values: Sequence[Any]) -> np.ndarray:
        unseen = self.rows.get(_UNSEEN)
        rows = [self.rows.get(value, unseen) for value in values]
        if None in rows:
            raise UncompiledValue("a category the encoder refuses")
        return self.outputs[rows]


def _compile_step(step: Any) -> Step | None:
    if step is None:
        return None
    if isinstance(step, PowerTransformer):
        return _power(step)
    if isinstance(step, StandardScaler):
        return _scaler(step)
    if hasattr(step, "feature_names_in_") or not hasattr(step, "transform"):
        return None
    return step.transform


def _power(transformer: PowerTransformer) -> Step | None:
    scale = _scaler(transformer._scaler) if transformer.standardize else None
    if transformer.method != "yeo-johnson" or (transformer.standardize and scale is None):
        return None
    lambdas = np.asarray(transformer.lambdas_, dtype="float64")
    eps = np.finfo("float64").eps
    # scipy's Yeo-Johnson (stats.yeojohnson) for every column at once; a lambda of 0 or 2 takes its log form.
    zero, two = np.abs(lambdas) < eps, np.abs(lambdas - 2) <= eps
    positive_lambdas = np.where(zero, 1.0, lambdas)
    negative_lambdas = np.where(two, 1.0, 2 - lambdas)

    def power(matrix: np.ndarray) -> np.ndarray:
        positive = matrix >= 0  # NaN is not: it stays NaN on the negative side, as in scipy
        with np.errstate(invalid="ignore", over="ignore"):
            log1p = np.log1p(np.where(positive, matrix, -matrix))
            out = np.where(positive, np.where(zero, log1p, np.expm1(positive_lambdas * log1p) / positive_lambdas),
                           np.where(two, -log1p, -np.expm1(negative_lambdas * log1p) / negative_lambdas))
        return scale(out) if scale else out
    return power


def _scaler(scaler: StandardScaler) -> Step | None:
    if not isinstance(scaler, StandardScaler):
        return None
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def standardise(matrix: np.ndarray) -> np.ndarray:
        if mean is not None:
            matrix = matrix - mean
        return matrix / scale if scale is not None else matrix
    return standardise


def _compile_final(estimator: Any) -> Any:
    """A network regressor (bare, or in StandardisedTarget) as its forward pass on a checked matrix; any other
    final step as it is."""
    network = estimator.regressor_ if isinstance(estimator, StandardisedTarget) else estimator
    if type(network) is not MLPRegressor:
        return estimator
    scale, mean = ((estimator.target_scale_, estimator.target_mean_) if network is not estimator else (1.0, 0.0))
    return _NetworkRegressor(network, scale, mean)


@dataclass(frozen=True)
class _NetworkRegressor:
    """MLPRegressor.predict without checking its input again (the steps before built it): its forward pass,
    then the target's scale and mean (StandardisedTarget)."""

    network: MLPRegressor
    scale: float
    mean: float

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        predicted = self.network._forward_pass_fast(matrix, check_input=False)
        predicted = predicted.ravel() if predicted.shape[1] == 1 else predicted
        return predicted * self.scale + self.mean if self.scale != 1.0 or self.mean != 0.0 else predicted


def matches_pipeline(compiled: CompiledModel, model: Pipeline, records: Records, classifier: bool) -> bool:
    """Whether the compiled model predicts each of `records` as `model` does (to RELATIVE_TOLERANCE); a record
    the pipeline refuses (a blank a model without an imputer cannot take) is not compared, the first must be."""
    frame = records.frame()
    for row in range(len(records)):
        one = Records(records.numeric[row:row + 1], {name: values[row:row + 1]
                                                     for name, values in records.categories.items()},
                      records.feature_columns)
        try:
            expected = model.predict_proba(frame.iloc[[row]]) if classifier else model.predict(frame.iloc[[row]])
        except (ArithmeticError, ValueError):
            if row == 0:
                return False
            continue
        try:
            if not _close(compiled.predict_proba(one) if classifier else compiled.predict(one), expected):
                return False
        except (ArithmeticError, ValueError, LookupError, TypeError, AttributeError):
            return False
    return True


def _close(ours: np.ndarray, theirs: Any) -> bool:
    theirs = np.asarray(theirs, dtype="float64")
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=RELATIVE_TOLERANCE, atol=1e-12))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
