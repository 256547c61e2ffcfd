"""JoinTable: a second table joined inside a model, kept in it when fitted."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from carolbatch.training.join import JoinTable

TABLE = pd.DataFrame({"k": [1, 2, 3], "s": [10.0, 20.0, 30.0]})


def test_the_columns_are_added_by_key_numbers_matching_whatever_their_type():
    records = pd.DataFrame({"k": [3.0, 1.0, 4.0], "a": [1.0, 2.0, 3.0]}, index=[7, 8, 9])
    joined = JoinTable(TABLE, "k", ["s"]).fit(records).transform(records)
    assert list(joined.columns) == ["k", "a", "s"] and list(joined.index) == [7, 8, 9]
    assert joined["s"].tolist()[:2] == [30.0, 10.0] and np.isnan(joined["s"].iloc[2])  # unknown key: a blank


def test_text_keys_match_as_text():
    table = pd.DataFrame({"k": ["x", "y"], "s": [1.0, 2.0]})
    records = pd.DataFrame({"k": ["y", "z"]})
    assert JoinTable(table, "k", ["s"]).fit(records).transform(records)["s"].tolist()[0] == 2.0


def test_the_fitted_model_keeps_the_table():
    records = pd.DataFrame({"k": [1.0, 2.0, 3.0, 1.0], "a": [0.0, 1.0, 0.0, 1.0]})
    model = Pipeline([("join", JoinTable(TABLE, "k", ["s"])), ("fit", LinearRegression())])
    model.fit(records, [10.0, 21.0, 30.0, 11.0])
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.predict(records) == pytest.approx(model.predict(records))
    assert list(model.feature_names_in_) == ["k", "a"]


@pytest.mark.parametrize(("table", "message"), [
    (pd.DataFrame({"k": [1, 1], "s": [1.0, 2.0]}), "holds key k=1.0 twice"),
    (pd.DataFrame({"k": [1]}), "has no column s"),
])
def test_a_table_that_cannot_be_joined_is_named(table, message):
    with pytest.raises(ValueError, match=message):
        JoinTable(table, "k", ["s"]).fit(pd.DataFrame({"k": [1.0]}))
