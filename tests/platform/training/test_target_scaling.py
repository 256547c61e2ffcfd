"""StandardisedTarget: a partial_fit regressor learning the standardised target, trained epoch by epoch."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.training.epochs import StoppingRule
from carolbatch.training.fitting import split_records, train_model
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.target_scaling import StandardisedTarget
from tests.conftest import FEATURES
from tests.platform.training.test_modeling import linear_frame


def thousands(rows: int = 400):
    """Features and a target in the thousands (like sales), linear in the features."""
    generator = np.random.default_rng(5)
    features = generator.normal(size=(rows, 3))
    return features, 5000.0 + features @ np.array([800.0, -300.0, 50.0]) + generator.normal(scale=10.0, size=rows)


def test_predictions_are_in_the_target_units_and_the_regressor_learns_mean_zero_unit_variance():
    features, target = thousands()
    model = StandardisedTarget(LinearRegression()).fit(features, target)
    np.testing.assert_allclose(model.predict(features), LinearRegression().fit(features, target).predict(features))
    inner = model.regressor_.predict(features)
    assert abs(inner.mean()) < 1e-9 and 0.9 < inner.std() <= 1.0
    assert (model.target_mean_, model.target_scale_) == pytest.approx((target.mean(), target.std()))


def test_the_scale_of_the_first_partial_fit_stays_for_the_later_ones():
    features, target = thousands()
    model = StandardisedTarget(SGDRegressor(random_state=0))
    model.partial_fit(features[:200], target[:200])
    first = (model.target_mean_, model.target_scale_)
    for _ in range(30):
        model.partial_fit(features[200:], target[200:] + 1000.0)
    assert (model.target_mean_, model.target_scale_) == first
    assert model.predict(features[200:]).mean() > target[200:].mean() + 500


def test_fit_starts_over_with_the_new_target():
    features, target = thousands()
    model = StandardisedTarget(LinearRegression()).fit(features, target)
    model.fit(features, -target)
    assert model.target_mean_ == pytest.approx(-target.mean())
    np.testing.assert_allclose(model.predict(features), LinearRegression().fit(features, -target).predict(features))


def test_a_constant_target_keeps_its_units_and_an_empty_one_is_refused():
    features = np.arange(12.0).reshape(6, 2)
    model = StandardisedTarget(LinearRegression()).fit(features, np.full(6, 7.0))
    assert model.target_scale_ == 1.0
    np.testing.assert_allclose(model.predict(features), 7.0)
    with pytest.raises(ValueError, match="no target values"):
        StandardisedTarget(SGDRegressor()).partial_fit(features[:0], np.array([]))


def test_clones_are_unfitted_and_copies_predict_the_same():
    features, target = thousands()
    model = StandardisedTarget(SGDRegressor(alpha=0.01, random_state=0)).partial_fit(features, target)
    assert not hasattr(clone(model), "regressor_") and clone(model).regressor.alpha == 0.01
    for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(copied.predict(features), model.predict(features))


@pytest.mark.parametrize("max_in_memory_rows", [None, 500])
def test_an_epoch_model_learns_a_target_in_the_thousands_in_memory_and_by_chunks(max_in_memory_rows):
    frame = linear_frame(3000)
    frame["y"] = frame["y"] * 1000.0 + 20_000.0
    split = split_records(len(frame), 0.2, 0.1, 1)

    pipeline = Pipeline([("scale", StandardScaler()),
                         ("linear", StandardisedTarget(SGDRegressor(alpha=0.001, random_state=1)))])
    model = EpochModel(pipeline, StoppingRule(20, 20, 0.0), 32, 1, max_in_memory_rows, chunk_rows=256)
    trained = train_model(frame, FEATURES, "y", split, model)
    # The noise is 100 (0.1 before the * 1000): the model reaches it, in the target's units.
    assert np.sqrt(np.mean((trained.y_test - trained.y_test_predicted) ** 2)) < 120
    assert trained.model[-1].target_mean_ == pytest.approx(frame["y"].mean(), rel=0.01)
    assert abs(trained.model[-1].regressor_.intercept_[0]) < 0.1
