"""A second table joined inside the model: the columns it adds travel with the model to the online app."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class JoinTable(TransformerMixin, BaseEstimator):
    """Adds `columns` of `table` to the records by `key`, as a left join: a key the table lacks gets blanks
    (which the model's imputer fills as for any blank).

    Put it first in the model's Pipeline (app/functions/model.py): fitting keeps the table in the model, so the
    gate, the report and the online app (`/predict` with the key alone) add the same values as training did.

    Args:
        table: the second table (e.g. from `carolbatch.records.reader.read_source`), one row per key.
        key: the column holding the key, in the records and in `table`.
        columns: the columns of `table` to add.
    """

    def __init__(self, table: pd.DataFrame, key: str, columns: Sequence[str]) -> None:
        self.table = table
        self.key = key
        self.columns = columns

    def fit(self, frame: pd.DataFrame, y=None) -> JoinTable:
        """Keep the table, indexed by its key.

        Raises:
            ValueError: the table lacks the key or a column, or holds a key twice.
        """
        missing = [name for name in (self.key, *self.columns) if name not in self.table.columns]
        if missing:
            raise ValueError(f"the joined table has no column {', '.join(missing)}")
        keys = _keys(self.table[self.key])
        if keys.duplicated().any():
            raise ValueError(f"the joined table holds key {self.key}={keys[keys.duplicated()][0]} twice")
        self.lookup_ = pd.DataFrame({name: self.table[name].to_numpy() for name in self.columns}, index=keys)
        self.feature_names_in_ = np.asarray(list(frame.columns), dtype=object)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The records with the table's columns added (the records' index and order kept)."""
        rows = self.lookup_.reindex(_keys(frame[self.key]))
        return frame.assign(**{name: rows[name].to_numpy() for name in self.columns})

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([*self.feature_names_in_, *self.columns], dtype=object)


def _keys(values: pd.Series) -> pd.Index:
    """Keys compared as numbers when they are numbers (1 and 1.0 alike, as a CSV and a request send them),
    else as text."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return pd.Index(numbers.astype("float64"))
    return pd.Index(values.astype(str))
