"""The compiled pipeline: the same predictions as the fitted Pipeline (1e-9 relative) for every model kind the
platform prepares (numeric, with blanks, categorical; a regressor and a classifier), on plain arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, SGDRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler

from carolbatch.online.compiled import Records, UncompiledValue, compile_pipeline, matches_pipeline
from carolbatch.online.records import category_numbers, read_records
from carolbatch.training.preprocessing import prepare_columns
from carolbatch.training.target_scaling import StandardisedTarget

NUMERIC = ("u", "v", "w")


def table(rows: int, seed: int, blanks: bool, categories: bool) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    frame = pd.DataFrame({name: generator.lognormal(size=rows) * (index + 1) - index
                          for index, name in enumerate(NUMERIC)})
    if blanks:
        frame.loc[generator.random(rows) < 0.2, "v"] = np.nan
    if categories:
        kinds = np.array(["north", "south", "1", "24", "rare"], dtype=object)
        frame["k"] = kinds[generator.choice(5, size=rows, p=[0.4, 0.3, 0.15, 0.14, 0.01])]
        frame.loc[generator.random(rows) < 0.1, "k"] = np.nan
    return frame


def records_of(frame: pd.DataFrame, categorical: tuple[str, ...]) -> Records:
    numeric = [name for name in frame.columns if name not in categorical]
    categories = {name: [None if pd.isna(value) else value for value in frame[name]] for name in categorical}
    return Records(frame[numeric].to_numpy("float64"), categories, tuple(frame.columns))


def fitted_regressor(frame: pd.DataFrame, categorical: tuple[str, ...]) -> Pipeline:
    network = StandardisedTarget(MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0))
    pipeline = Pipeline([("prepare", prepare_columns(tuple(frame.columns), categorical, max_levels=4)),
                         ("scale", PowerTransformer()), ("mlp", network)])
    target = np.nan_to_num(frame["u"].to_numpy()) * 3 + np.nan_to_num(frame["v"].to_numpy())
    return pipeline.fit(frame, target)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("blanks, categories", [(False, False), (True, False), (True, True)])
def test_compiled_regressor_predicts_as_the_pipeline(blanks, categories):
    categorical = ("k",) if categories else ()
    train, test = table(400, 1, blanks, categories), table(300, 2, blanks, categories)
    pipeline = fitted_regressor(train, categorical)
    compiled = compile_pipeline(pipeline, tuple(train.columns), categorical)
    assert compiled is not None
    expected = pipeline.predict(test)
    assert np.allclose(compiled.predict(records_of(test, categorical)), expected, rtol=1e-9, atol=0)
    for row in range(5):  # one record at a time, as most requests come
        one = records_of(test.iloc[[row]], categorical)
        assert compiled.predict(one)[0] == pytest.approx(expected[row], rel=1e-9)
    if categories:  # an unknown category is predicted as the pipeline predicts it (the infrequent indicator)
        unknown = test.assign(k="never seen")
        assert np.allclose(compiled.predict(records_of(unknown, categorical)), pipeline.predict(unknown), rtol=1e-9)


def test_compiled_classifier_gives_the_pipelines_labels_and_probabilities():
    frame = table(500, 3, blanks=True, categories=True)
    labels = np.where(np.nan_to_num(frame["u"].to_numpy()) > 1.5, "high", np.where(frame["k"] == "north", "n", "low"))
    pipeline = Pipeline([("prepare", prepare_columns(tuple(frame.columns), ("k",))), ("scale", StandardScaler()),
                         ("logistic", LogisticRegression(max_iter=500))]).fit(frame, labels)
    compiled = compile_pipeline(pipeline, tuple(frame.columns), ("k",))
    test = table(200, 4, blanks=True, categories=True)
    records = records_of(test, ("k",))
    assert (compiled.predict(records) == pipeline.predict(test)).all()
    assert np.allclose(compiled.predict_proba(records), pipeline.predict_proba(test), rtol=1e-9, atol=1e-15)
    assert matches_pipeline(compiled, pipeline, records_of(test.head(20), ("k",)), classifier=True)


def test_a_pipeline_fitted_on_named_numeric_columns_without_a_column_transformer_is_compiled():
    frame = table(300, 5, blanks=False, categories=False)
    pipeline = Pipeline([("scale", StandardScaler()), ("linear", SGDRegressor(random_state=0))])
    pipeline.fit(frame, frame["u"] * 2 - frame["w"])
    compiled = compile_pipeline(pipeline, NUMERIC, ())
    assert np.allclose(compiled.predict(records_of(frame, ())), pipeline.predict(frame), rtol=1e-9)
    # Features in another order than the model was fitted on: not compiled (the pipeline answers by name).
    assert compile_pipeline(pipeline, NUMERIC[::-1], ()) is None


def test_steps_it_does_not_know_are_not_compiled_and_refused_categories_go_back_to_the_pipeline():
    frame = table(200, 6, blanks=False, categories=False)
    # A step fitted on the matrix before it runs its own transform.
    logged = Pipeline([("scale", StandardScaler()), ("log", FunctionTransformer(np.tanh)),
                       ("linear", SGDRegressor(random_state=0))]).fit(frame, frame["u"])
    compiled = compile_pipeline(logged, NUMERIC, ())
    assert np.allclose(compiled.predict(records_of(frame, ())), logged.predict(frame), rtol=1e-9)
    # A ColumnTransformer step other than an imputer or an encoder: not compiled.
    scaled = Pipeline([("prepare", ColumnTransformer([("scale", StandardScaler(), list(NUMERIC))])),
                       ("linear", SGDRegressor(random_state=0))]).fit(frame, frame["u"])
    assert compile_pipeline(scaled, NUMERIC, ()) is None
    categorical = table(200, 7, blanks=False, categories=True)
    strict = prepare_columns(tuple(categorical.columns), ("k",))
    strict.transformers[1][1].steps[1][1].set_params(handle_unknown="error", max_categories=None)
    pipeline = Pipeline([("prepare", strict), ("linear", SGDRegressor(random_state=0))]).fit(categorical,
                                                                                             categorical["u"])
    compiled = compile_pipeline(pipeline, tuple(categorical.columns), ("k",))
    with pytest.raises(UncompiledValue):
        compiled.predict(records_of(categorical.assign(k="never seen"), ("k",)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_zone_sent_as_a_number_or_as_text_gets_one_answer():
    train = table(400, 8, blanks=True, categories=True)
    pipeline = fitted_regressor(train.assign(u=train["u"] + (train["k"] == "24") * 5), ("k",))
    compiled = compile_pipeline(pipeline, tuple(train.columns), ("k",))
    numbers = {"k": category_numbers(["1", "24", "north", "rare", "south"])}
    base = dict.fromkeys(NUMERIC, 0.5)
    records = read_records([{**base, "k": zone} for zone in (1, "1", 1.0, 24, "24", "01")], tuple(train.columns),
                           10, ("k",), numbers)
    one, text, decimal, zone_24, text_24, leading_zero = compiled.predict(records)
    assert one == text == decimal and zone_24 == text_24 and one != zone_24
    assert leading_zero == compiled.predict(read_records([{**base, "k": "never seen"}], tuple(train.columns), 1,
                                                         ("k",), numbers))[0]  # "01" is not "1": unknown
