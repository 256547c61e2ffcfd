"""The decision is the app's: any metric of the model's kind decides, with an absolute tolerance, a relative
improvement, and the paired bootstrap interval of the difference; a champion of another kind or label set is not
comparable. Setting kinds an app declares (Choice, or its own) parse once and are Luigi parameters.

Synthetic predictions and trivial models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carolbatch.evaluation import Evaluation, Metrics
from carolbatch.gate import Comparison, GateRules, _unscorable, decide_deployment
from carolbatch.metrics import METRICS, Output, paired_interval
from carolbatch.problem import BINARY, REGRESSION, Problem
from carolbatch.settings import PLATFORM_SETTINGS, Setting, declare_settings
from carolbatch.settings.declaration import SettingsError
from carolbatch.settings.kinds import Choice
from carolbatch.settings.layers import resolve_settings
from carolbatch.tasks import setting_parameter
from carolbatch.training.split import identity_rule

RULE = identity_rule("id", ("a", "y"), 1, 0.2, 0.1)
APP_DEFAULTS = {"input_connector": "c", "input_staging": "s", "data_path": "d.csv", "feature_columns": ("x",),
                "target_column": "y", "id_column": None, "deploy_app": "app"}


def regression(mae: float) -> Metrics:
    return Metrics(mse=mae**2, mae=mae, rmse=mae, r2=0.5)


def evaluation(mae: float) -> Evaluation:
    return Evaluation(regression(mae), regression(mae), regression(9.0), regression(9.0), True, "within",
                      decision_metric="mae")


def comparison(challenger: float, champion: float, interval=None) -> Comparison:
    return Comparison("v1", 100, regression(challenger), regression(champion), regression(9.0), metric="mae",
                      interval=interval)


def rules(**options) -> GateRules:
    return GateRules("y", options.pop("tolerance", 0.0), RULE, metric="mae", **options)


@pytest.mark.parametrize("challenger, deployed", [(1.99, False), (1.96, True), (2.0, False), (2.1, False)])
def test_a_share_of_improvement_is_required_of_a_challenger(challenger, deployed):
    approved, reason = decide_deployment(evaluation(challenger), comparison(challenger, 2.0),
                                         rules(min_improvement=0.02))
    assert approved is deployed
    assert reason.startswith(f"test MAE {challenger:.3f} vs 2.000 of deployed model v1 on 100 common test records")
    assert deployed or "champion_min_improvement=0.02" in reason or "champion_tolerance=0" in reason


def test_the_tolerance_is_absolute_in_the_decision_metrics_units():
    assert decide_deployment(evaluation(2.05), comparison(2.05, 2.0), rules(tolerance=0.1))[0]
    approved, reason = decide_deployment(evaluation(2.2), comparison(2.2, 2.0), rules(tolerance=0.1))
    assert not approved and "worse by more than champion_tolerance=0.1" in reason


def test_for_a_metric_where_higher_is_better_a_lower_value_is_worse():
    auc = lambda value: Metrics(log_loss=0.3, roc_auc=value, accuracy=0.9, balanced_accuracy=0.9, f1=0.9,  # noqa: E731
                                brier=0.1)
    pair = Comparison("v1", 100, auc(0.931), auc(0.994), auc(0.5), metric="roc_auc")
    approved, reason = decide_deployment(Evaluation(auc(0.931), auc(0.931), auc(0.5), auc(0.5), True, "ok"), pair,
                                         GateRules("y", 0.0, RULE, metric="roc_auc"))
    assert not approved
    assert reason == ("test ROC AUC 0.931 vs 0.994 of deployed model v1 on 100 common test records: worse by more "
                      "than champion_tolerance=0")


def noisy_pair(shift: float, records: int = 400, seed: int = 0):
    generator = np.random.default_rng(seed)
    truth = generator.normal(size=records)
    champion = truth + generator.normal(scale=1.0, size=records)
    challenger = truth + generator.normal(scale=1.0, size=records) + shift
    return truth, Output(challenger), Output(champion)


def test_the_paired_interval_holds_the_difference_and_is_the_same_every_time():
    truth, challenger, champion = noisy_pair(0.0)
    metric = METRICS["mae"]
    interval = paired_interval(metric, truth, challenger, champion, Problem(REGRESSION))
    assert interval.low < interval.difference < interval.high and interval.resamples == 1000
    assert interval == paired_interval(metric, truth, challenger, champion, Problem(REGRESSION))
    clearly_worse = paired_interval(metric, *noisy_pair(3.0), Problem(REGRESSION))
    assert clearly_worse.low > 0  # the challenger is worse, and the interval shows it


def test_with_a_confidence_only_an_interval_that_shows_not_worse_deploys():
    truth, challenger, champion = noisy_pair(0.0, seed=3)
    metric = METRICS["mae"]
    interval = paired_interval(metric, truth, challenger, champion, Problem(REGRESSION), confidence=0.95)
    pair = Comparison("v1", 400, regression(metric.score(truth, challenger, None)),
                      regression(metric.score(truth, champion, None)), regression(9.0), metric="mae",
                      interval=interval)
    point = decide_deployment(evaluation(1.0), pair, rules(tolerance=1.0))
    assert point[0]  # the point difference is within the tolerance
    assert interval.high > 0.01
    assert pair.challenger.mae - pair.champion.mae < 0.05  # within the tolerance below, yet the interval is not
    approved, reason = decide_deployment(evaluation(1.0), pair, rules(tolerance=0.05, confidence=0.95))
    assert not approved and "champion_confidence=0.95" in reason and "95% interval" in reason


def test_a_champion_of_another_kind_or_label_set_is_not_comparable():
    metadata = {"split": RULE.as_dict(), "feature_columns": ["a"], "problem": {"kind": "binary", "classes": [0, 1]}}
    frame = pd.DataFrame({"id": [1], "a": [1.0], "y": [0]})
    assert "it solves binary classification (0, 1), this run regression" == _unscorable(metadata, frame, "y",
                                                                                          Problem(REGRESSION))
    other = _unscorable(metadata, frame, "y", Problem(BINARY, ("no", "yes")))
    assert other == "it solves binary classification (0, 1), this run binary classification (no, yes)"
    assert _unscorable(metadata, frame, "y", Problem(BINARY, (0, 1))) == ""
    assert "this run binary" in _unscorable({**metadata, "problem": None}, frame, "y", Problem(BINARY, (0, 1)))


class Percent:
    """An app's own setting kind: a percentage written `15%`, kept as a share."""

    python_type = float
    allowed = "a percentage such as 15%"

    def parse(self, value) -> float:
        text = str(value).strip()
        if not text.endswith("%"):
            raise ValueError(self.allowed)
        return float(text[:-1]) / 100


def test_choice_and_an_apps_own_kind_parse_once_and_are_luigi_parameters():
    declaration = declare_settings(PLATFORM_SETTINGS, (
        Setting("objective", Choice("rmse", "mae"), "rmse", "the metric"),
        Setting("share", Percent(), "10%", "a share"),
    ), defaults=APP_DEFAULTS)
    settings = resolve_settings(declaration, [("default", declaration.defaults()), ("settings.toml", {"objective": "MAE", "share": "15%"})]).settings
    assert (settings.objective, settings.share) == ("mae", 0.15)
    assert type(setting_parameter(declaration, "share")).__name__ == "FloatParameter"
    assert type(setting_parameter(declaration, "objective")).__name__ == "Parameter"
    with pytest.raises(SettingsError, match=r"setting objective='r2' \(from --set\) is invalid: expected one of rmse, mae"):
        resolve_settings(declaration, [("default", declaration.defaults()), ("--set", {"objective": "r2"})])
    with pytest.raises(SettingsError, match=r"setting share=\[1\] \(from --set\) is invalid: expected a percentage"):
        resolve_settings(declaration, [("default", declaration.defaults()), ("--set", {"share": [1]})])
