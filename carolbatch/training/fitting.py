"""Splitting records, and training the app's model through the model contract into a TrainedModel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from carolbatch.training.checkpoints import Checkpoints
from carolbatch.training.contract import Fitted, Model, ProgressCallback
from carolbatch.training.rows import TrainingRows, predict_rows

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
    validation loss after each epoch, empty for a model without epochs)."""

    model: Pipeline
    feature_columns: tuple[str, ...]
    split: Split
    y_train: np.ndarray
    y_train_predicted: np.ndarray
    y_test: np.ndarray
    y_test_predicted: np.ndarray
    training: Mapping[str, Any]
    validation_losses: tuple[float, ...] = ()

    @property
    def epochs_run(self) -> int | None:
        """Epochs trained, or None for a model without epochs."""
        return self.training.get("epochs_run")


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
) -> TrainedModel:
    """Fit `model` on the train rows of `frame` (it may watch the validation rows), then predict by chunks.

    The test rows are only predicted. The frame is never copied: the model gets views of its columns, by name.
    With `checkpoints` an epoch model goes on from the last one there is and keeps them as it trains.

    Raises:
        KeyError: a feature or the target column is missing from `frame`.
        ValueError: the model cannot be fitted on these rows.
    """
    columns = {name: frame[name].to_numpy() for name in feature_columns}
    target = frame[target_column].to_numpy()
    fitted = model.fit(TrainingRows(columns, target, split.train_rows),
                       TrainingRows(columns, target, split.validation_rows), on_progress, checkpoints)
    return _predict_parts(fitted, feature_columns, columns, target, split)


def _predict_parts(fitted: Fitted, feature_columns: Sequence[str], columns: Mapping[str, np.ndarray], target: np.ndarray,
                   split: Split) -> TrainedModel:
    """The fitted model with the true and predicted targets of its train and test rows."""
    facts = {**fitted.facts, "train_rows": len(split.train_rows), "validation_rows": len(split.validation_rows)}
    return TrainedModel(
        model=fitted.pipeline,
        feature_columns=tuple(feature_columns),
        split=split,
        y_train=target[split.train_rows].astype("float64"),
        y_train_predicted=predict_rows(fitted.pipeline, columns, split.train_rows),
        y_test=target[split.test_rows].astype("float64"),
        y_test_predicted=predict_rows(fitted.pipeline, columns, split.test_rows),
        training=facts,
        validation_losses=fitted.validation_losses,
    )
