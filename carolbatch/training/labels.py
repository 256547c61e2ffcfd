"""The target made into what the model learns: numbers for a regressor, labels for a classifier (the kind read
from the model by scikit-learn's own test), each class with records in the train part."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from carolbatch.records.sources import RecordsError
from carolbatch.records.values import name_record
from carolbatch.problem import plain_label


def is_classifying(estimator: Any) -> bool:
    """Whether a model (a Pipeline or an estimator) is a classifier, by scikit-learn's own test.

    Raises:
        ValueError: it is neither a classifier nor a regressor.
    """
    if is_classifier(estimator):
        return True
    if is_regressor(estimator):
        return False
    raise ValueError(f"{type(estimator).__name__} is neither a scikit-learn classifier nor a regressor: the platform "
                     "reads the kind of problem from the model (is_classifier / is_regressor)")


def target_values(target: np.ndarray | pd.Series, classifying: bool, name: str, ids: Any = None,
                  id_column: str | None = None, source: str = "") -> np.ndarray:
    """The target as the model learns it: floats for a regressor (text holding numbers is read as numbers), labels
    for a classifier (whole numbers as integers, text as text).

    Raises:
        RecordsError: a regressor's target holds text that is not a number (the record and value named), or a
            classifier's holds numbers with fractions.
    """
    values = np.asarray(target) if not isinstance(target, pd.Series) else target.to_numpy()
    numeric = values.dtype.kind in "iuf"
    if not classifying:
        return values if numeric else _numbers(values, name, ids, id_column, source)
    if not numeric:
        return np.asarray([str(value) for value in values], dtype=object)
    if values.dtype.kind == "f" and not np.all(np.mod(values, 1) == 0):
        position = int(np.flatnonzero(np.mod(values, 1) != 0)[0])
        raise RecordsError(f"target column {name} holds {plain_label(values[position])!r} in "
                           f"{name_record(ids, id_column, position, source)}: a classifier's labels are whole numbers "
                           "or text (build a regressor in app/functions/model.py to predict numbers)")
    return values.astype("int64")


def _numbers(values: np.ndarray, name: str, ids: Any, id_column: str | None, source: str) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="float64")
    bad = np.flatnonzero(np.isnan(numbers))
    if len(bad):
        raise RecordsError(f"target column {name} holds {plain_label(values[bad[0]])!r} in "
                           f"{name_record(ids, id_column, int(bad[0]), source)}: the model is a regressor, which "
                           "predicts numbers (build a classifier in app/functions/model.py to predict labels)")
    return numbers


def check_classes(labels: np.ndarray, train_rows: np.ndarray, target_column: str) -> np.ndarray:
    """The classes of the records (sorted), once every one of them has records in the train part.

    Raises:
        RecordsError: fewer than two classes, or a class with no record in the train part.
    """
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise RecordsError(f"target column {target_column} holds one class only ({classes[0]!r}): a classifier "
                           "needs at least two")
    learned = np.unique(labels[train_rows])
    missing = [(label, int(count)) for label, count in zip(classes, counts) if label not in set(learned.tolist())]
    if missing:
        label, count = missing[0]
        raise RecordsError(f"target column {target_column}: class {plain_label(label)!r} ({count} records) has no "
                           "record in the train part, so no model can learn it (add records of it, or leave them out)")
    return classes
