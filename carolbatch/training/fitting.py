"""Splitting records, and training the app's model through the model contract into a TrainedModel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from carolbatch.metrics import Output
from carolbatch.problem import REGRESSION, Problem, problem_of
from carolbatch.training.labels import check_classes, is_classifying, target_values
from carolbatch.training.checkpoints import Checkpoints
from carolbatch.training.contract import Fitted, Model, ProgressCallback
from carolbatch.training.rows import Columns, TrainingRows, predict_probabilities, predict_rows

if TYPE_CHECKING:
    from carolbatch.training.split import SplitRule


@dataclass(frozen=True)
class Split:
    """Row positions of the three disjoint parts of a set of records: the model fits `train_rows`,
    early stopping watches `validation_rows`, and `test_rows` are only ever predicted. `rule` is the split by
    identity that drew them (what the registry records and the gate compares), None for `split_records`."""

    train_rows: np.ndarray
    validation_rows: np.ndarray
    test_rows: np.ndarray
    rule: SplitRule | None = None


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the true and predicted targets of its train and test rows, and how training went
    (`training`: the model's facts with the number of train and validation rows; `validation_losses`: the
    validation loss after each epoch, empty for a model without epochs). A classifier's predictions are labels,
    with the class probabilities beside them (`train_probabilities`, `test_probabilities`; None for a regressor).
    """

    model: Pipeline
    feature_columns: tuple[str, ...]
    split: Split
    y_train: np.ndarray
    y_train_predicted: np.ndarray
    y_test: np.ndarray
    y_test_predicted: np.ndarray
    training: Mapping[str, Any]
    validation_losses: tuple[float, ...] = ()
    problem: Problem = Problem()
    train_probabilities: np.ndarray | None = None
    test_probabilities: np.ndarray | None = None

    @property
    def epochs_run(self) -> int | None:
        """Epochs trained, or None for a model without epochs."""
        return self.training.get("epochs_run")

    @property
    def train_output(self) -> Output:
        return Output(self.y_train_predicted, self.train_probabilities)

    @property
    def test_output(self) -> Output:
        return Output(self.y_test_predicted, self.test_probabilities)


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


def train_model(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    split: Split,
    model: Model,
    on_progress: ProgressCallback | None = None,
    checkpoints: Checkpoints | None = None,
    id_column: str | None = None,
) -> TrainedModel:
    """Fit `model` on the train rows of `frame` (it may watch the validation rows), then predict by chunks.

    The kind of problem is the model's: a regressor learns the target as numbers, a classifier as labels, each of
    which must have train records. The test rows are only predicted. The frame is never copied: the model gets views
    of its columns, by name. With `checkpoints` an epoch model goes on from the last one there is and keeps them as
    it trains.

    Raises:
        KeyError: a feature or the target column is missing from `frame`.
        RecordsError: the target does not suit the model (text for a regressor, a class without train records).
        ValueError: the model cannot be fitted on these rows.
    """
    columns = {name: frame[name].to_numpy() for name in feature_columns}
    classifying = is_classifying(model.pipeline)
    ids = frame[id_column].to_numpy() if id_column else None
    target = target_values(frame[target_column], classifying, target_column, ids, id_column)
    if classifying:
        check_classes(target, split.train_rows, target_column)
        if not hasattr(model.pipeline, "predict_proba"):
            raise ValueError(f"{type(model.pipeline[-1]).__name__} gives no class probabilities (predict_proba), "
                             "which the metrics, the gate and the online answer need: choose a classifier that does")
    fitted = model.fit(TrainingRows(columns, target, split.train_rows),
                       TrainingRows(columns, target, split.validation_rows), on_progress, checkpoints)
    return _predict_parts(fitted, feature_columns, columns, target, split)


def predict_output(model: Pipeline, columns: Columns, rows: np.ndarray, problem: Problem) -> Output:
    """A model's answer for `rows`: its predictions, or a classifier's labels (the most probable class) and class
    probabilities."""
    if not problem.is_classification:
        return Output(predict_rows(model, columns, rows))
    probabilities = predict_probabilities(model, columns, rows)
    return Output(np.asarray(model.classes_)[np.argmax(probabilities, axis=1)], probabilities)


def _predict_parts(fitted: Fitted, feature_columns: Sequence[str], columns: Mapping[str, np.ndarray], target: np.ndarray,
                   split: Split) -> TrainedModel:
    """The fitted model with the true and predicted targets of its train and test rows."""
    facts = {**fitted.facts, "train_rows": len(split.train_rows), "validation_rows": len(split.validation_rows)}
    pipeline = fitted.pipeline
    problem = problem_of(pipeline.classes_) if is_classifying(pipeline) else Problem(REGRESSION)
    train, test = (predict_output(pipeline, columns, rows, problem) for rows in (split.train_rows, split.test_rows))
    kept = (lambda rows: target[rows]) if problem.is_classification else (lambda rows: target[rows].astype("float64"))
    return TrainedModel(
        model=pipeline,
        feature_columns=tuple(feature_columns),
        split=split,
        y_train=kept(split.train_rows),
        y_train_predicted=train.values,
        y_test=kept(split.test_rows),
        y_test_predicted=test.values,
        training=facts,
        validation_losses=fitted.validation_losses,
        problem=problem,
        train_probabilities=train.probabilities,
        test_probabilities=test.probabilities,
    )
