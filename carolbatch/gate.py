"""The deployment gate: the champion and the challenger scored on the records both held out, and the decision.

A model is only ever graded on records it never saw: the champion's split rule (kept in its registry
metadata) and the challenger's each name a test part, and only the records in both count. When that is
too few records, or the champion cannot be scored at all (its rule is unknown, it predicts another target,
its features are not in the records), the two are not comparable: the gate says so and names the two ways
on, a new `deploy_app` or one run with `--replace-champion`; it neither deploys nor blocks silently.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from carolbatch.evaluation import Evaluation
from carolbatch.metrics import (
    METRICS,
    Interval,
    Metric,
    Metrics,
    Output,
    baseline_output,
    interval_facts,
    paired_interval,
    score_output,
)
from carolbatch.problem import Problem
from carolbatch.training.fitting import TrainedModel, predict_output
from carolbatch.training.split import SplitRule, holdout_mask

logger = logging.getLogger(__name__)

# Fewer common records than this make a metric too noisy to choose a model by.
MIN_COMMON_RECORDS = 30
REMEDY = "deploy to a new deploy_app, or run once with --replace-champion"
# The interval every comparison reports; `champion_confidence` sets another and makes it decide.
REPORTED_CONFIDENCE = 0.95


@dataclass(frozen=True)
class GateRules:
    """What the gate needs besides the models: the target, the decision metric, how much worse (absolute, in the
    metric's units) and how much better (a share of the champion's value) a challenger must be, the challenger's
    split rule, whether this run replaces the champion whatever the comparison, the confidence at which the
    paired interval must show the challenger not worse (None: the point difference decides), and the fewest common
    records that count."""

    target_column: str
    tolerance: float
    split: SplitRule
    replace_champion: bool = False
    min_records: int = MIN_COMMON_RECORDS
    metric: str = "rmse"
    min_improvement: float = 0.0
    confidence: float | None = None

    @property
    def decision_metric(self) -> Metric:
        return METRICS[self.metric]


@dataclass(frozen=True)
class Comparison:
    """Champion and challenger on the records both held out (`records` of them), with the baseline's metrics
    there and the paired interval of the decision metric's difference; `problem` says why they are not comparable
    ("" when they are)."""

    champion_version: str
    records: int = 0
    challenger: Metrics | None = None
    champion: Metrics | None = None
    baseline: Metrics | None = None
    problem: str = ""
    metric: str = "rmse"
    interval: Interval | None = None

    @property
    def comparable(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly values."""
        facts = {key: value.as_dict() if isinstance(value, Metrics) else value for key, value in vars(self).items()}
        return {**facts, "interval": interval_facts(self.interval)}


def compare_with_champion(version: str, model: Any, metadata: Mapping[str, Any], trained: TrainedModel,
                          frame: pd.DataFrame, rules: GateRules) -> Comparison:
    """Score the deployed model and the challenger on the records of `frame` in both test parts.

    Args:
        version, model, metadata: the deployed model, its version id and its registry metadata.
        trained: the challenger; its test part is `trained.split.test_rows` of `frame`.
        frame: the ingested records.
        rules: the target column, the decision metric, the challenger's split rule and the floor of common records.
    """
    problem = _unscorable(metadata, frame, rules.target_column, trained.problem)
    if problem:
        return _not_comparable(version, 0, problem, rules)
    champion_rule = SplitRule.from_dict(metadata["split"])
    in_both = holdout_mask(frame, champion_rule)[trained.split.test_rows]
    rows = trained.split.test_rows[in_both]
    if len(rows) < rules.min_records:
        held_out = "held out by both" if champion_rule != rules.split else "in its test part"
        return _not_comparable(version, len(rows), f"only {len(rows)} records are {held_out} "
                               f"(at least {rules.min_records} are needed)", rules)
    try:
        features = {name: frame[name].to_numpy() for name in metadata["feature_columns"]}
        champion = predict_output(model, features, rows, trained.problem)
    except Exception as error:  # noqa: BLE001 (a model that cannot predict here, whatever it raises, is not comparable)
        return _not_comparable(version, len(rows), f"it cannot predict these records ({type(error).__name__}: "
                                                   f"{(str(error).splitlines() or [''])[0]})", rules)
    return _scored(version, trained, in_both, champion, rules)


def _scored(version: str, trained: TrainedModel, in_both, champion: Output, rules: GateRules) -> Comparison:
    """Both models and the baseline on the common records, with the paired interval of the decision metric."""
    problem, y_true = trained.problem, trained.y_test[in_both]
    challenger = trained.test_output.take(in_both)
    interval = paired_interval(rules.decision_metric, y_true, challenger, champion, problem,
                               rules.confidence or REPORTED_CONFIDENCE)
    baseline = score_output(y_true, baseline_output(trained.y_train, len(y_true), problem), problem)
    return Comparison(version, len(y_true), score_output(y_true, challenger, problem),
                      score_output(y_true, champion, problem), baseline, metric=rules.metric, interval=interval)


def _unscorable(metadata: Mapping[str, Any], frame: pd.DataFrame, target_column: str, problem: Problem) -> str:
    """Why the champion cannot be scored on `frame` at all, or ""."""
    rule = SplitRule.from_dict(metadata.get("split"))
    if rule is None:
        return "it records no split rule this code can apply, so the records it never saw are unknown"
    champion_target = (metadata.get("settings") or {}).get("target_column", target_column)
    if champion_target != target_column:
        return f"it predicts {champion_target}, this run {target_column}"
    champion_problem = Problem.from_dict(metadata.get("problem"))
    if champion_problem != problem:
        return f"it solves {champion_problem.describe()}, this run {problem.describe()}"
    missing = [name for name in (*metadata.get("feature_columns", ()), *rule.key_columns)
               if name not in frame.columns]
    if missing:
        return f"the records have no usable column {', '.join(dict.fromkeys(missing))}"
    return ""


def _not_comparable(version: str, records: int, problem: str, rules: GateRules) -> Comparison:
    logger.warning("deployed model %s is not comparable: %s", version, problem)
    return Comparison(version, records, problem=problem, metric=rules.metric)


def decide_deployment(evaluation: Evaluation, comparison: Comparison | None, rules: GateRules,
                      same_data: bool = False) -> tuple[bool, str]:
    """Deploy a challenger that passed its thresholds and, on the common records, is at most `rules.tolerance` worse
    than the champion in the decision metric, better by at least `rules.min_improvement` of the champion's value,
    and, with `rules.confidence`, not worse by the paired interval; with `rules.replace_champion`, whatever the
    comparison.

    Args:
        evaluation: the challenger's evaluation (its `approved` covers the thresholds and the baseline).
        comparison: the two on their common holdout, or None when no model is deployed.
        rules: the decision metric, the tolerance, the improvement, the confidence and whether this run replaces the
            champion.
        same_data: whether the champion was trained on the very data of this run; a challenger with its
            exact metrics is then the same model again and gets no new version.

    Returns:
        Whether to deploy, and why, in words fit for a log line.
    """
    if not evaluation.approved:
        return False, evaluation.reason
    metric = rules.decision_metric
    if comparison is None:
        return True, (f"test {metric.label} {evaluation.test[metric.name]:.3f} passes the thresholds and no model is "
                      "deployed yet")
    verdict = _compare(comparison, rules, same_data)
    if rules.replace_champion and not _identical(comparison, same_data):
        return True, f"replaces deployed model {comparison.champion_version} (--replace-champion): {verdict[1]}"
    return verdict


def _compare(comparison: Comparison, rules: GateRules, same_data: bool) -> tuple[bool, str]:
    version, metric = comparison.champion_version, rules.decision_metric
    if not comparison.comparable:
        return False, f"not comparable with deployed model {version}: {comparison.problem}; {REMEDY}"
    challenger, champion = comparison.challenger[metric.name], comparison.champion[metric.name]
    if same_data and _same_metrics(comparison.champion, comparison.challenger):
        return False, f"identical to deployed model {version} (same data, same test metrics); no new version"
    interval = f", {comparison.interval.describe()}" if comparison.interval is not None else ""
    difference = (f"test {metric.label} {challenger:.3f} vs {champion:.3f} of deployed model {version} "
                  f"on {comparison.records} common test records{interval}")
    failed = _failed_rule(metric, challenger, champion, comparison.interval, rules)
    if failed:
        return False, f"{difference}: {failed}"
    return True, f"{difference}: {_passed_rule(rules)}"


def _failed_rule(metric: Metric, challenger: float, champion: float, interval: Interval | None, rules: GateRules
                 ) -> str:
    """Which rule of the gate the challenger breaks, or ""."""
    if not math.isfinite(challenger) or not math.isfinite(champion):
        return f"{metric.label} is not finite on these records"
    if metric.worse_by(challenger, champion) > rules.tolerance:
        return f"worse by more than champion_tolerance={rules.tolerance:g}"
    if rules.min_improvement > 0 and -metric.worse_by(challenger, champion) < rules.min_improvement * abs(champion):
        return f"not better by champion_min_improvement={rules.min_improvement:g} of the deployed model's {metric.label}"
    if rules.confidence is not None and (interval is None or not interval.shows_not_worse(metric, rules.tolerance)):
        return (f"the {rules.confidence:.0%} interval does not show it is not worse by more than "
                f"champion_tolerance={rules.tolerance:g} (champion_confidence={rules.confidence:g})")
    return ""


def _passed_rule(rules: GateRules) -> str:
    passed = [f"not worse by more than champion_tolerance={rules.tolerance:g}"]
    if rules.min_improvement > 0:
        passed.append(f"better by at least champion_min_improvement={rules.min_improvement:g}")
    if rules.confidence is not None:
        passed.append(f"so at champion_confidence={rules.confidence:g}")
    return ", ".join(passed)


def _identical(comparison: Comparison, same_data: bool) -> bool:
    """The challenger is the champion again: the same data and the same test metrics (replacing it would only
    publish a duplicate version)."""
    return same_data and comparison.comparable and _same_metrics(comparison.champion, comparison.challenger)


def _same_metrics(first: Metrics, second: Metrics) -> bool:
    return all(math.isclose(first[name], second[name], rel_tol=1e-9, abs_tol=1e-12) or
               (math.isnan(first[name]) and math.isnan(second[name])) for name in first)
