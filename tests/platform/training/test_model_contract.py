"""The model contract: a model without epochs (OneStepModel) trains through it and goes through evaluation,
the report, deployment and the online app's model check like an epoch model; synthetic data, tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.online.served import check_current_model
from carolbatch.registry import load_current, read_version_metadata
from carolbatch.report import build_plots, render_report
from carolbatch.storage.stores import LocalStore
from carolbatch.training.contract import OneStepModel, describe_training
from carolbatch.training.fitting import Split, split_records, train_model
from carolbatch.training.rows import TrainingRows
from carolbatch.training.split import split_by_identity
from tests.conftest import FEATURES, deploy_tiny, tiny_rule, train_tiny


def boosted_trees() -> OneStepModel:
    """A scikit-learn estimator without partial_fit, small enough for 13 train rows."""
    estimator = HistGradientBoostingRegressor(max_iter=20, min_samples_leaf=2, random_state=0)
    return OneStepModel(Pipeline([("trees", estimator)]), facts={"max_iter": 20})


def test_training_rows_are_views_until_a_model_asks_for_a_matrix():
    columns = [np.arange(5.0), np.arange(5.0) * 10]
    rows = TrainingRows(columns, np.arange(5.0) + 100, np.array([3, 1]))
    assert len(rows) == 2
    np.testing.assert_array_equal(rows.features(), [[3.0, 30.0], [1.0, 10.0]])
    np.testing.assert_array_equal(rows.targets(np.array([4])), [104.0])
    with pytest.raises(IndexError):
        rows.features(np.array([9]))


def test_a_model_without_epochs_trains_in_one_step_with_its_facts(tiny_frame):
    reports = []
    trained = train_model(tiny_frame, FEATURES, "y", split_records(20, 0.25, 0.1, 0), boosted_trees(),
                          reports.append)
    assert [(report.percent, report.describe()[:36]) for report in reports] == [
        (100.0, "step 1 of 1: fitted (validation loss")]
    assert list(trained.training) == ["validation_loss", "max_iter", "train_rows", "validation_rows"]
    assert trained.epochs_run is None and trained.validation_losses == ()
    assert trained.training["validation_loss"] > 0 and (trained.training["train_rows"], len(trained.y_test)) == (13, 5)
    assert describe_training(trained.training).startswith("fitted in one step (validation loss ")
    # Better than the mean on its own train rows: it did learn.
    assert np.mean((trained.y_train - trained.y_train_predicted) ** 2) < np.var(trained.y_train)


def test_a_one_step_model_fits_a_clone_and_leaves_its_pipeline_unfitted(tiny_frame):
    model = OneStepModel(Pipeline([("scale", StandardScaler()), ("linear", LinearRegression())]))
    trained = train_model(tiny_frame, FEATURES, "y", split_records(20, 0.25, 0.1, 0), model)
    # The target is linear in the features: a fitted linear model is exact.
    np.testing.assert_allclose(trained.y_test_predicted, trained.y_test, atol=1e-9)
    assert trained.training["validation_loss"] < 1e-12 and not hasattr(model.pipeline[-1], "coef_")


def test_a_one_step_model_refuses_empty_train_rows_and_bad_targets(tiny_frame):
    split = split_records(20, 0.25, 0.1, 0)
    empty = Split(np.array([], dtype=int), split.validation_rows, split.test_rows)
    with pytest.raises(ValueError, match="cannot fit a model on 0 train rows"):
        train_model(tiny_frame, FEATURES, "y", empty, boosted_trees())
    broken = tiny_frame.assign(y=np.nan)
    with pytest.raises(ValueError, match="NaN"):
        train_model(broken, FEATURES, "y", split, OneStepModel(Pipeline([("linear", LinearRegression())])))


def test_a_model_without_epochs_is_evaluated_reported_deployed_and_served(tmp_path, tiny_frame):
    trained = train_model(tiny_frame, FEATURES, "y", split_by_identity(tiny_frame, tiny_rule()), boosted_trees())
    evaluation = evaluate_model(trained, Thresholds(min_improvement_over_baseline=-1e9))
    assert evaluation.metrics()["training"] == dict(trained.training)
    store = LocalStore(tmp_path)
    decision = deploy_tiny(store, "online", "v1", trained, evaluation, tiny_frame)
    assert decision.version == "v1"
    plots = build_plots(trained)
    html = render_report(evaluation, plots, {"model": "trees"}, {"rows": 20}, decision.as_summary())
    assert "<th>validation_loss</th>" in html and "epochs_run" not in html and "Learning curve" not in html
    assert (tmp_path / "online" / "v1" / "report.html").read_text() != ""
    metadata = read_version_metadata(store, "online", "v1")
    assert metadata["epochs_run"] is None and metadata["training"]["max_iter"] == 20
    json.dumps(metadata, allow_nan=False)
    served = check_current_model(load_current(store, "online"))
    np.testing.assert_allclose(served.predict(tiny_frame[list(FEATURES)].to_numpy()[trained.split.test_rows]),
                               trained.y_test_predicted)


def test_an_epoch_champion_and_a_one_step_challenger_are_compared_on_the_same_rows(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    champion = train_tiny(tiny_frame, 300, l2=0.0)
    thresholds = Thresholds(min_improvement_over_baseline=-1e9)
    deploy_tiny(store, "online", "v1", champion, evaluate_model(champion, thresholds), tiny_frame, settings={})
    challenger = train_model(tiny_frame, FEATURES, "y", champion.split, boosted_trees())
    decision = deploy_tiny(store, "online", "v2", challenger, evaluate_model(challenger, thresholds), tiny_frame, 1e9,
                           settings={})
    assert (decision.version, decision.champion) == ("v2", "v1")
    assert decision.comparison["records"] == len(champion.split.test_rows)
    assert read_version_metadata(store, "online", "v1")["training"]["epochs_run"] == 300


def test_the_platform_training_code_knows_no_estimator():
    # Generic for any scikit-learn pipeline: the MLP's names belong to app/functions/model.py.
    from tests.conftest import PROJECT_DIR

    for module in (PROJECT_DIR / "carolbatch" / "training").glob("*.py"):
        source = module.read_text()
        for name in ("MLPRegressor", "hidden_layer_sizes", "coefs_", "intercepts_", "[-1].batch_size", "neural_network"):
            assert name not in source, f"{module.name} names {name}"


def test_the_validation_loss_is_a_float64_mean_squared_error_of_equal_lengths():
    from carolbatch.training.rows import mean_squared_error

    assert mean_squared_error(np.array([1, 2], dtype="float32"), np.array([2.0, 4.0])) == 2.5
    with pytest.raises(ValueError):
        mean_squared_error(np.arange(3.0), np.arange(2.0))


def test_training_is_described_by_its_epochs_or_its_one_step():
    epochs = {"epochs_run": 12, "best_epoch": 9, "best_validation_loss": 0.5, "stop_reason": "reached model_epochs=12"}
    assert describe_training(epochs) == ("stopped after epoch 12, kept epoch 9 (validation loss 0.5000): "
                                         "reached model_epochs=12")
    assert describe_training({"validation_loss": 2.0}) == "fitted in one step (validation loss 2.0000)"
    with pytest.raises(KeyError):
        describe_training({"epochs_run": 3})
