"""The first step of a model's pipeline for a table of named columns: blank numbers imputed, categories
encoded, all fitted on the train rows, so that training, the gate and the online app treat a record alike.

An app's model module puts it first in its Pipeline:

    Pipeline([("prepare", prepare_columns(feature_columns, categorical_columns)), ..., ("estimator", ...)])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

# A categorical column gets one indicator per category up to this many; rarer categories beyond them share
# one "infrequent" indicator, so a column of many levels stays a few dozen inputs wide.
MAX_CATEGORY_LEVELS = 32


def prepare_columns(feature_columns: Sequence[str], categorical_columns: Sequence[str] = (),
                    max_levels: int = MAX_CATEGORY_LEVELS) -> ColumnTransformer:
    """A ColumnTransformer taking a DataFrame of `feature_columns` by name.

    Numeric features: a blank (NaN) becomes the column's median over the rows it is fitted on. Categorical
    features (text; numbers are taken as their text): one-hot, the `max_levels - 1` most frequent categories each an indicator, the others one
    shared indicator; a category never seen in fitting counts as an infrequent one (or none), not an error; a
    blank is a category of its own. The output is a dense float matrix, numeric columns first, in order.

    Raises:
        ValueError: a categorical column that is not a feature, or no feature at all.
    """
    unknown = [name for name in categorical_columns if name not in feature_columns]
    if unknown or not feature_columns:
        raise ValueError(f"categorical columns must be among the feature columns {list(feature_columns)}, "
                         f"not {unknown}" if unknown else "a model needs at least one feature column")
    numeric = [name for name in feature_columns if name not in categorical_columns]
    steps = []
    if numeric:
        # keep_empty_features: a column blank in every train row still gives an input (0), so the shape holds.
        steps.append(("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if categorical_columns:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_levels,
                                sparse_output=False)
        as_text = FunctionTransformer(categories_as_text, feature_names_out="one-to-one")
        steps.append(("categorical", Pipeline([("text", as_text), ("one_hot", encoder)]), list(categorical_columns)))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)


def categories_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text, whatever the frame holds (a number is its text, a blank NaN), so a frame of numbers
    or of None meets the categories learned from text."""
    return pd.DataFrame({name: _as_text(frame[name]) for name in frame.columns}, index=frame.index)


def _as_text(column: pd.Series) -> np.ndarray:
    present = column.notna().to_numpy()
    values = np.full(len(column), np.nan, dtype=object)
    values[present] = column[present].astype(str).to_numpy(dtype=object)
    return values
