"""The gate: champion and challenger on the records both held out, and the decision it makes.

Platform tests: synthetic records and trivial scikit-learn models (a memorizing 1-nearest-neighbour model,
a linear regression), so they hold whatever model the app uses.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor

from carolbatch.evaluation import Evaluation, Metrics, Thresholds, evaluate_model, score_predictions
from carolbatch.gate import REMEDY, Comparison, GateRules, compare_with_champion, decide_deployment
from carolbatch.registry import load_current, read_current_version, read_history
from carolbatch.storage.stores import LocalStore
from carolbatch.training.fitting import TrainedModel
from carolbatch.training.rows import predict_rows
from carolbatch.training.split import SplitRule, holdout_mask, identity_rule, split_by_identity
from tests.conftest import deploy_tiny

FEATURES = ("a", "b", "c")
APP = "online"


def records(ids, seed: int, noise: float = 3.0) -> pd.DataFrame:
    """A linear target with much noise: a model that memorizes its records fits the noise."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(ids), 3))
    target = features @ np.array([3.0, -2.0, 1.0]) + rng.normal(scale=noise, size=len(ids))
    return pd.DataFrame({"id": ids, "a": features[:, 0], "b": features[:, 1], "c": features[:, 2], "y": target})


def rule(test_size: float = 0.2, random_state: int = 1, features=FEATURES) -> SplitRule:
    return identity_rule("id", (*features, "y"), random_state, test_size, 0.1)


def fit(model, frame: pd.DataFrame, split_rule: SplitRule, features=FEATURES) -> TrainedModel:
    """A model fitted once on the train part of `frame`, as the pipeline's TrainModel hands it on."""
    split = split_by_identity(frame, split_rule)
    columns = [frame[name].to_numpy() for name in features]
    train = np.stack([column[split.train_rows] for column in columns], axis=1)
    model.fit(train, frame["y"].to_numpy()[split.train_rows])
    y = frame["y"].to_numpy()
    facts = {"train_rows": len(split.train_rows), "validation_rows": len(split.validation_rows)}
    return TrainedModel(model, tuple(features), split, y[split.train_rows], predict_rows(model, columns, split.train_rows),
                        y[split.test_rows], predict_rows(model, columns, split.test_rows), facts)


def deploy(store, version, trained, frame, split_rule, **options):
    evaluation = evaluate_model(trained, Thresholds())
    return deploy_tiny(store, APP, version, trained, evaluation, frame, rule=split_rule, min_records=30,
                       settings={"data_fingerprint": f"file:{version}", "target_column": "y"}, **options)


def test_a_memorizing_champion_is_scored_on_records_it_never_saw_and_a_better_challenger_deploys(tmp_path):
    store = LocalStore(tmp_path)
    first = records(np.arange(3000), seed=0)
    champion = fit(KNeighborsRegressor(n_neighbors=1), first, rule())
    own_test_rmse = score_predictions(champion.y_test, champion.y_test_predicted).rmse
    assert deploy(store, "v1", champion, first, rule()).version == "v1"

    grown = pd.concat([first, records(np.arange(3000, 3600), seed=1)]).sample(frac=1.0, random_state=0)
    challenger = fit(LinearRegression(), grown, rule())
    decision = deploy(store, "v2", challenger, grown, rule())

    scored = decision.comparison["champion"]["rmse"]
    assert scored == pytest.approx(own_test_rmse, rel=0.1)  # its train records (RMSE 0) are not among them
    assert decision.version == "v2" and read_current_version(store, APP) == "v2"
    test_records = int(np.sum(holdout_mask(grown, rule())))
    assert decision.comparison["records"] == test_records
    assert f"of deployed model v1 on {test_records} common test records" in decision.reason


def test_a_changed_test_size_scores_the_intersection_and_says_how_many_records(tmp_path):
    store = LocalStore(tmp_path)
    frame = records(np.arange(2000), seed=0)
    deploy(store, "v1", fit(LinearRegression(), frame, rule(0.2)), frame, rule(0.2))

    champion_rule = rule(0.2)
    for version, other in (("v2", rule(0.3)), ("v3", rule(0.3, random_state=2))):
        decision = deploy(store, version, fit(LinearRegression(), frame, other), frame, other, tolerance=1e9)
        both = holdout_mask(frame, champion_rule) & holdout_mask(frame, other)
        assert decision.version == version and decision.comparison["records"] == int(both.sum()) > 30
        assert f"on {int(both.sum())} common test records" in decision.reason
        champion_rule = other
    assert int((holdout_mask(frame, rule(0.2)) & holdout_mask(frame, rule(0.3))).sum()) == int(
        holdout_mask(frame, rule(0.2)).sum())


def test_without_an_id_a_float32_reading_of_the_same_records_holds_out_the_same_ones(tmp_path):
    store = LocalStore(tmp_path)
    frame = records(np.arange(2000), seed=0).drop(columns="id")
    whole_records = identity_rule("", (*FEATURES, "y"), 1, 0.2, 0.1)
    champion = fit(KNeighborsRegressor(n_neighbors=1), frame, whole_records)
    own_test_rmse = score_predictions(champion.y_test, champion.y_test_predicted).rmse
    deploy(store, "v1", champion, frame, whole_records)
    as_float32 = frame.astype("float32")
    decision = deploy(store, "v2", fit(LinearRegression(), as_float32, whole_records), as_float32, whole_records,
                      tolerance=1e9)
    # Every common record is one of the champion's test records: none it memorised is scored.
    assert decision.comparison["records"] == len(champion.split.test_rows)
    assert decision.comparison["champion"]["rmse"] == pytest.approx(own_test_rmse, rel=0.01)


def test_too_few_common_records_are_not_comparable_and_say_the_way_on(tmp_path):
    store = LocalStore(tmp_path)
    frame = records(np.arange(300), seed=0)
    deploy(store, "v1", fit(LinearRegression(), frame, rule(0.2)), frame, rule(0.2))
    other = rule(0.2, random_state=5)
    decision = deploy(store, "v2", fit(LinearRegression(), frame, other), frame, other)
    assert decision.version is None and read_current_version(store, APP) == "v1"
    assert decision.reason.startswith("not comparable with deployed model v1: only ")
    assert "(at least 30 are needed)" in decision.reason and decision.reason.endswith(REMEDY)


def test_a_changed_feature_set_is_not_comparable_until_replace_champion_deploys_with_its_reason(tmp_path):
    store = LocalStore(tmp_path)
    frame = records(np.arange(1000), seed=0)
    deploy(store, "v1", fit(LinearRegression(), frame, rule()), frame, rule())
    # Another table: the champion's columns a, b, c are gone.
    renamed = frame.rename(columns={"a": "d", "b": "e", "c": "f"})
    other = rule(features=("d", "e", "f"))
    challenger = fit(LinearRegression(), renamed, other, features=("d", "e", "f"))

    refused = deploy(store, "v2", challenger, renamed, other)
    assert refused.version is None and read_current_version(store, APP) == "v1"
    assert refused.reason == (f"not comparable with deployed model v1: the records have no usable column a, b, c; "
                              f"{REMEDY}")
    assert (tmp_path / "refused" / "v2.report.html").is_file() and refused.report.endswith("v2.report.html")

    replaced = deploy(store, "v3", challenger, renamed, other, replace=True)
    assert replaced.version == "v3" and read_current_version(store, APP) == "v3"
    assert replaced.reason.startswith("replaces deployed model v1 (--replace-champion): not comparable")
    entry = read_history(store, APP)[-1]
    assert entry["version"] == "v3" and entry["reason"] == replaced.reason
    assert json.loads((tmp_path / APP / "v3" / "metadata.json").read_text())["split"] == other.as_dict()


def test_a_champion_of_another_target_or_without_a_split_rule_is_not_comparable(tmp_path):
    store = LocalStore(tmp_path)
    frame = records(np.arange(500), seed=0)
    trained = fit(LinearRegression(), frame, rule())
    deploy(store, "v1", trained, frame, rule())
    current = load_current(store, APP)
    rules = GateRules("y", 0.0, rule())
    other_target = {**current.metadata, "settings": {"target_column": "price"}}
    assert compare_with_champion("v1", current.model, other_target, trained, frame, rules).problem == (
        "it predicts price, this run y")
    legacy = {key: value for key, value in current.metadata.items() if key != "split"}
    assert "records no split rule" in compare_with_champion("v1", current.model, legacy, trained, frame,
                                                            rules).problem


def metrics(rmse: float, r2: float = 0.8) -> Metrics:
    return Metrics(mse=rmse**2, mae=rmse, rmse=rmse, r2=r2)


def evaluation(rmse: float, approved: bool = True, reason: str = "within the thresholds") -> Evaluation:
    return Evaluation(train=metrics(rmse), test=metrics(rmse), baseline_train=metrics(9.0, 0.0),
                      baseline_test=metrics(9.0, 0.0), approved=approved, reason=reason)


def compared(challenger: float, champion: float, records: int = 100) -> Comparison:
    return Comparison("v1", records, metrics(challenger), metrics(champion), metrics(9.0, 0.0))


def gate(tolerance: float = 0.0, replace: bool = False) -> GateRules:
    return GateRules("y", tolerance, rule(), replace)


def test_first_model_is_deployed_when_it_passes_the_thresholds():
    approved, reason = decide_deployment(evaluation(3.5), None, gate())
    assert approved and "no model is deployed yet" in reason


def test_threshold_refusal_wins_over_a_worse_champion_and_over_replace_champion():
    failed = evaluation(3.5, False, "test R² 0.8 is below min_test_r2=0.99")
    for rules in (gate(), gate(replace=True)):
        approved, reason = decide_deployment(failed, compared(3.5, 9.0), rules)
        assert not approved and "min_test_r2=0.99" in reason


def test_worse_challenger_is_refused_with_both_rmse_values_and_the_record_count():
    approved, reason = decide_deployment(evaluation(16.4), compared(16.4, 3.5, records=87), gate())
    assert not approved
    assert reason == ("test RMSE 16.400 vs 3.500 of deployed model v1 on 87 common test records: "
                      "worse by more than champion_tolerance=0")


def test_tolerance_lets_a_slightly_worse_challenger_through():
    assert decide_deployment(evaluation(3.6), compared(3.6, 3.5), gate(0.2))[0]
    assert not decide_deployment(evaluation(3.6), compared(3.6, 3.5), gate(0.05))[0]


def test_identical_metrics_on_the_same_data_are_not_a_new_version():
    approved, reason = decide_deployment(evaluation(3.5), compared(3.5, 3.5), gate(), same_data=True)
    assert not approved and "identical to deployed model v1" in reason
    assert decide_deployment(evaluation(3.5), compared(3.5, 3.5), gate(), same_data=False)[0]
    assert decide_deployment(evaluation(3.4), compared(3.4, 3.5), gate(), same_data=True)[0]


@given(challenger=st.floats(0.01, 100), champion=st.floats(0.01, 100), tolerance=st.floats(0, 10))
def test_deployed_exactly_when_not_worse_than_champion_plus_tolerance(challenger, champion, tolerance):
    approved, _ = decide_deployment(evaluation(challenger), compared(challenger, champion), gate(tolerance))
    assert approved == (challenger <= champion + tolerance)
