"""The column preparation step (carolbatch/training/preprocessing.py): blanks imputed with the train rows'
median, categories one-hot encoded, columns taken by name, in memory and when training by chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.training.epochs import StoppingRule
from carolbatch.training.fitting import split_records, train_model
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.preprocessing import prepare_columns

FEATURES = ("size", "kind", "age")


def mixed_frame(rows: int = 200) -> pd.DataFrame:
    """A numeric feature with blanks, a category with blanks, and a target that depends on both."""
    generator = np.random.default_rng(4)
    size = generator.uniform(1, 10, rows)
    kind = generator.choice(np.array(["house", "flat", "loft"], dtype=object), rows)
    target = size * 2 + np.where(kind == "house", 10.0, 0.0) + generator.normal(scale=0.1, size=rows)
    size[::7] = np.nan
    kind[::11] = np.nan
    return pd.DataFrame({"size": size, "kind": kind, "age": generator.uniform(0, 50, rows), "y": target})


def model(max_in_memory_rows: int | None = None) -> EpochModel:
    linear = SGDRegressor(random_state=0)
    pipeline = Pipeline([("prepare", prepare_columns(FEATURES, ["kind"])), ("scale", StandardScaler()),
                         ("linear", linear)])
    return EpochModel(pipeline, StoppingRule(100, 100, 0.0), 16, 0, max_in_memory_rows, chunk_rows=64)


def test_blanks_take_the_train_median_and_categories_become_indicators():
    frame = mixed_frame()
    prepare = prepare_columns(FEATURES, ["kind"]).fit(frame.iloc[:100])
    row = prepare.transform(pd.DataFrame({"size": [np.nan], "kind": ["flat"], "age": [1.0]}))
    assert row[0, 0] == np.nanmedian(frame["size"].iloc[:100]) and row[0, 1] == 1.0
    assert list(prepare.get_feature_names_out()) == ["size", "age", "kind_flat", "kind_house", "kind_loft",
                                                     "kind_nan"]
    unseen = prepare.transform(pd.DataFrame({"size": [1.0], "kind": ["castle"], "age": [1.0]}))
    assert unseen[0, 2:].tolist() == [0.0, 0.0, 0.0, 0.0]  # a category never seen: no indicator, no error


def test_many_levels_stay_a_bounded_number_of_inputs():
    frame = pd.DataFrame({"code": np.array([f"c{number % 500}" for number in range(2000)], dtype=object)})
    prepared = prepare_columns(["code"], ["code"], max_levels=10).fit_transform(frame)
    assert prepared.shape == (2000, 10)


def test_a_categorical_column_must_be_a_feature():
    with pytest.raises(ValueError, match="must be among the feature columns"):
        prepare_columns(["a"], ["b"])


@pytest.mark.parametrize("max_in_memory_rows", [None, 50])
def test_a_model_with_blanks_and_categories_trains_in_memory_and_by_chunks(max_in_memory_rows):
    frame = mixed_frame()
    split = split_records(len(frame), 0.2, 0.1, 1)
    trained = train_model(frame, FEATURES, "y", split, model(max_in_memory_rows))
    assert np.isfinite(trained.y_test_predicted).all()
    assert np.sqrt(np.mean((trained.y_test - trained.y_test_predicted) ** 2)) < 0.5 * np.std(trained.y_test)


def test_the_fitted_model_predicts_by_column_name_and_refuses_a_missing_feature():
    frame = mixed_frame()
    trained = train_model(frame, FEATURES, "y", split_records(len(frame), 0.2, 0.1, 1), model())
    features = frame[list(FEATURES)]
    np.testing.assert_array_equal(trained.model.predict(features[["age", "kind", "size"]]),
                                  trained.model.predict(features))
    with pytest.raises(ValueError, match="age"):
        trained.model.predict(features.drop(columns=["age"]))
