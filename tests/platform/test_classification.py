"""Classification beside regression: the kind of problem read from the model, labels of any type, metrics of each
kind with their direction, the class-prior baseline, training through the model contract (and resuming a
classifier's checkpoint), and the checks that name what is wrong in one line.

Synthetic records and small scikit-learn classifiers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.metrics import (
    MetricChoiceError,
    Output,
    baseline_output,
    decision_metric,
    metrics_of,
    score_output,
)
from carolbatch.problem import BINARY, MULTICLASS, REGRESSION, Problem
from carolbatch.records.sources import RecordsError
from carolbatch.storage.stores import LocalStore
from carolbatch.training.checkpoints import Checkpoints, checkpoint_name
from carolbatch.training.contract import OneStepModel
from carolbatch.training.epochs import StoppingRule
from carolbatch.training.fitting import train_model
from carolbatch.training.labels import check_classes, is_classifying, target_values
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.rows import predict_probabilities
from carolbatch.training.split import identity_rule, split_by_identity

FEATURES = ("a", "b")


def labelled(rows: int = 400, classes=("no", "yes"), seed: int = 0) -> pd.DataFrame:
    """Two features whose sum decides the class (with noise), labels as given."""
    generator = np.random.default_rng(seed)
    features = generator.normal(size=(rows, 2))
    score = features.sum(axis=1) + generator.normal(scale=0.5, size=rows)
    edges = np.quantile(score, np.linspace(0, 1, len(classes) + 1)[1:-1])
    labels = np.asarray(classes, dtype=object)[np.searchsorted(edges, score)]
    return pd.DataFrame({"id": np.arange(rows), "a": features[:, 0], "b": features[:, 1], "label": labels})


def trained_on(frame: pd.DataFrame, model) -> object:
    split = split_by_identity(frame, identity_rule("id", (*FEATURES, "label"), 1, 0.25, 0.2))
    return train_model(frame, FEATURES, "label", split, model, id_column="id")


def logistic() -> OneStepModel:
    return OneStepModel(Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression())]))


def test_the_kind_of_problem_is_the_models():
    assert is_classifying(Pipeline([("logistic", LogisticRegression())]))
    assert not is_classifying(Pipeline([("linear", LinearRegression())]))
    with pytest.raises(ValueError, match="neither a scikit-learn classifier nor a regressor"):
        is_classifying(StandardScaler())


def test_labels_are_kept_as_the_records_hold_them():
    assert target_values(np.array([0.0, 1.0, 1.0]), True, "y").tolist() == [0, 1, 1]
    assert target_values(np.array([0.0, 1.0]), True, "y").dtype == np.int64
    assert target_values(pd.Series(["yes", "no"], dtype="str"), True, "y").tolist() == ["yes", "no"]
    assert target_values(pd.Series(["1.5", "2"], dtype="str"), False, "y").tolist() == [1.5, 2.0]


def test_a_target_that_does_not_suit_the_model_is_one_line_naming_the_record():
    with pytest.raises(RecordsError, match=r"target column y holds 'high' in record id=7: the model is a regressor"):
        target_values(pd.Series(["1.0", "high"], dtype="str"), False, "y", np.array([3, 7]), "id")
    with pytest.raises(RecordsError, match=r"holds 0.5 in record at row 2: a classifier's labels are whole numbers"):
        target_values(np.array([1.0, 0.5]), True, "y")


def test_a_class_without_train_records_is_one_line():
    labels = np.array(["a", "a", "b", "b", "c"], dtype=object)
    assert check_classes(labels, np.array([0, 2, 4]), "y").tolist() == ["a", "b", "c"]
    with pytest.raises(RecordsError, match=r"class 'c' \(1 records\) has no record in the train part"):
        check_classes(labels, np.array([0, 1, 2, 3]), "y")
    with pytest.raises(RecordsError, match="holds one class only"):
        check_classes(np.array([1, 1, 1]), np.array([0, 1]), "y")


def test_binary_metrics_are_scikit_learns_and_know_their_direction():
    problem = Problem(BINARY, ("no", "yes"))
    y = np.array(["no", "yes", "yes", "no", "yes"], dtype=object)
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1], [0.2, 0.8]])
    labels = np.array(["no", "yes", "no", "no", "yes"], dtype=object)
    result = score_output(y, Output(labels, probabilities), problem)
    positive = y == "yes"
    assert set(result) == {"log_loss", "roc_auc", "accuracy", "balanced_accuracy", "f1", "brier"}
    assert result.roc_auc == pytest.approx(sk.roc_auc_score(positive, probabilities[:, 1]))
    assert result.log_loss == pytest.approx(sk.log_loss(positive, probabilities[:, 1]))
    assert result.brier == pytest.approx(sk.brier_score_loss(positive, probabilities[:, 1]))
    assert result.accuracy == pytest.approx(0.8) and result.f1 == pytest.approx(sk.f1_score(positive, labels == "yes"))
    assert decision_metric(None, problem).name == "log_loss" and decision_metric("roc_auc", problem).higher_is_better


def test_multiclass_metrics_are_macro_and_have_no_brier_score():
    problem = Problem(MULTICLASS, (0, 1, 2))
    y = np.array([0, 1, 2, 2, 1, 0])
    probabilities = np.array([[.7, .2, .1], [.1, .6, .3], [.2, .2, .6], [.1, .5, .4], [.3, .4, .3], [.5, .4, .1]])
    result = score_output(y, Output(np.argmax(probabilities, axis=1), probabilities), problem)
    assert "brier" not in result and [metric.name for metric in metrics_of(MULTICLASS)][:2] == ["log_loss", "roc_auc"]
    assert result.roc_auc == pytest.approx(sk.roc_auc_score(y, probabilities, multi_class="ovr", average="macro"))
    assert result.f1 == pytest.approx(sk.f1_score(y, np.argmax(probabilities, axis=1), average="macro"))


def test_a_metric_undefined_on_the_records_is_nan_not_an_error():
    problem = Problem(BINARY, (0, 1))
    result = score_output(np.array([1, 1]), Output(np.array([1, 1]), np.array([[0.2, 0.8], [0.4, 0.6]])), problem)
    assert math.isnan(result.roc_auc) and result.accuracy == 1.0


def test_the_baseline_of_a_classifier_is_the_train_class_prior():
    problem = Problem(BINARY, ("no", "yes"))
    baseline = baseline_output(np.array(["no", "yes", "yes", "yes"], dtype=object), 3, problem)
    assert baseline.values.tolist() == ["yes"] * 3 and baseline.probabilities.tolist() == [[0.25, 0.75]] * 3


def test_a_metric_of_another_kind_is_refused_in_one_line():
    with pytest.raises(MetricChoiceError, match="decision_metric=mae does not apply to binary classification"):
        decision_metric("mae", Problem(BINARY, (0, 1)))
    with pytest.raises(MetricChoiceError, match="decision_metric=roc_auc does not apply to regression"):
        decision_metric("roc_auc", Problem(REGRESSION))


def test_a_classifier_with_text_labels_trains_predicts_labels_and_probabilities():
    trained = trained_on(labelled(), logistic())
    assert trained.problem == Problem(BINARY, ("no", "yes"))
    assert set(trained.y_test_predicted) <= {"no", "yes"}
    assert trained.test_probabilities.shape == (len(trained.y_test), 2)
    assert np.allclose(trained.test_probabilities.sum(axis=1), 1.0)
    result = evaluate_model(trained, Thresholds({"min_test_roc_auc": 0.8}))
    assert result.approved and result.decision_metric == "log_loss"
    assert result.test.roc_auc > 0.8 and result.test.log_loss < result.baseline_test.log_loss
    refused = evaluate_model(trained, Thresholds({"min_test_roc_auc": 0.999}))
    assert not refused.approved and "is below min_test_roc_auc=0.999" in refused.reason


def test_a_threshold_of_another_kind_is_refused_in_one_line():
    trained = trained_on(labelled(), logistic())
    with pytest.raises(MetricChoiceError, match="setting max_test_rmse=3 bounds RMSE, which this kind of model has"):
        evaluate_model(trained, Thresholds({"max_test_rmse": 3.0}))


def test_a_classifier_without_probabilities_is_refused_in_one_line():
    with pytest.raises(ValueError, match="SGDClassifier gives no class probabilities"):
        trained_on(labelled(), OneStepModel(Pipeline([("sgd", SGDClassifier())])))


def mlp_classifier(in_memory: bool) -> EpochModel:
    network = MLPClassifier(hidden_layer_sizes=(8,), batch_size=32, random_state=3)
    return EpochModel(Pipeline([("scale", StandardScaler()), ("mlp", network)]), StoppingRule(6, 6, 0.0),
                      batch_size=32, random_state=5, max_in_memory_rows=None if in_memory else 100, chunk_rows=64)


class Stop(Exception):
    """Stands for the kill."""


def stop_after(epoch: int):
    def on_progress(report) -> None:
        if report.epoch == epoch:
            raise Stop(epoch)

    return on_progress


@pytest.mark.parametrize("in_memory", [True, False], ids=["in memory", "by chunks"])
def test_a_classifier_trained_in_epochs_resumes_from_its_checkpoint_with_the_same_model(tmp_path, in_memory):
    frame = labelled(classes=("a", "b", "c"))
    split = split_by_identity(frame, identity_rule("id", (*FEATURES, "label"), 1, 0.25, 0.2))
    uninterrupted = train_model(frame, FEATURES, "label", split, mlp_classifier(in_memory))
    checkpoints = Checkpoints(LocalStore(tmp_path), checkpoint_name("", "TrainModel", "cd" * 32), "TrainModel", 1)
    with pytest.raises(Stop):
        train_model(frame, FEATURES, "label", split, mlp_classifier(in_memory), stop_after(4), checkpoints)
    resumed = train_model(frame, FEATURES, "label", split, mlp_classifier(in_memory), None, checkpoints)
    assert resumed.training == uninterrupted.training and resumed.training["epochs_run"] == 6
    assert resumed.validation_losses == uninterrupted.validation_losses  # log loss, epoch by epoch
    assert np.array_equal(resumed.test_probabilities, uninterrupted.test_probabilities)
    assert resumed.problem == Problem(MULTICLASS, ("a", "b", "c"))


def test_class_probabilities_are_predicted_by_chunks_in_class_order():
    trained = trained_on(labelled(), logistic())
    columns = {name: labelled()[name].to_numpy() for name in FEATURES}
    rows = np.arange(50)
    assert np.allclose(predict_probabilities(trained.model, columns, rows, chunk_rows=7),
                       trained.model.predict_proba(labelled()[list(FEATURES)].iloc[:50]), rtol=1e-12)


@pytest.mark.parametrize("classes", [(0, 1), ("a", "b", "c"), (2, 5, 7, 9)])
def test_the_metrics_equal_scikit_learns_on_random_predictions_with_ties(classes):
    generator = np.random.default_rng(len(classes))
    rows = 500
    y = np.asarray(classes, dtype=object if isinstance(classes[0], str) else "int64")[
        generator.integers(0, len(classes), rows)]
    probabilities = np.round(generator.dirichlet(np.ones(len(classes)), size=rows), 1)  # rounded: many ties
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    predicted = np.asarray(classes, dtype=y.dtype)[np.argmax(probabilities, axis=1)]
    problem = Problem(BINARY if len(classes) == 2 else MULTICLASS, classes)
    result = score_output(y, Output(predicted, probabilities), problem)
    labels = list(classes)
    expected = {"log_loss": sk.log_loss(y, probabilities, labels=labels),
                "accuracy": sk.accuracy_score(y, predicted),
                "balanced_accuracy": sk.balanced_accuracy_score(y, predicted)}
    if len(classes) == 2:
        expected.update(roc_auc=sk.roc_auc_score(y == classes[1], probabilities[:, 1]),
                        f1=sk.f1_score(y, predicted, pos_label=classes[1]),
                        brier=sk.brier_score_loss(y == classes[1], probabilities[:, 1]))
    else:
        expected.update(roc_auc=sk.roc_auc_score(y, probabilities, multi_class="ovr", labels=labels),
                        f1=sk.f1_score(y, predicted, average="macro", labels=labels))
    assert set(result) == set(expected)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
