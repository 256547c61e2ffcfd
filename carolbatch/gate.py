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
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from carolbatch.evaluation import Evaluation, Metrics, score_baseline, score_predictions
from carolbatch.training.fitting import TrainedModel
from carolbatch.training.rows import predict_rows
from carolbatch.training.split import SplitRule, holdout_mask

logger = logging.getLogger(__name__)

# Fewer common records than this make an RMSE too noisy to choose a model by.
MIN_COMMON_RECORDS = 30
REMEDY = "deploy to a new deploy_app, or run once with --replace-champion"


@dataclass(frozen=True)
class GateRules:
    """What the gate needs besides the models: the target, the tolerance, the challenger's split rule, whether
    this run replaces the champion whatever the comparison, and the fewest common records that count."""

    target_column: str
    tolerance: float
    split: SplitRule
    replace_champion: bool = False
    min_records: int = MIN_COMMON_RECORDS


@dataclass(frozen=True)
class Comparison:
    """Champion and challenger on the records both held out (`records` of them), with the mean predictor's
    metrics there; `problem` says why they are not comparable ("" when they are)."""

    champion_version: str
    records: int = 0
    challenger: Metrics | None = None
    champion: Metrics | None = None
    baseline: Metrics | None = None
    problem: str = ""

    @property
    def comparable(self) -> bool:
        return not self.problem

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly values."""
        return {key: asdict(value) if isinstance(value, Metrics) else value for key, value in vars(self).items()}


def compare_with_champion(version: str, model: Any, metadata: Mapping[str, Any], trained: TrainedModel,
                          frame: pd.DataFrame, rules: GateRules) -> Comparison:
    """Score the deployed model and the challenger on the records of `frame` in both test parts.

    Args:
        version, model, metadata: the deployed model, its version id and its registry metadata.
        trained: the challenger; its test part is `trained.split.test_rows` of `frame`.
        frame: the ingested records.
        rules: the target column, the challenger's split rule and the floor of common records.
    """
    problem = _unscorable(metadata, frame, rules.target_column)
    if problem:
        return _not_comparable(version, 0, problem)
    champion_rule = SplitRule.from_dict(metadata["split"])
    in_both = holdout_mask(frame, champion_rule)[trained.split.test_rows]
    rows = trained.split.test_rows[in_both]
    if len(rows) < rules.min_records:
        held_out = "held out by both" if champion_rule != rules.split else "in its test part"
        return _not_comparable(version, len(rows), f"only {len(rows)} records are {held_out} "
                               f"(at least {rules.min_records} are needed)")
    y_true = trained.y_test[in_both]
    try:
        features = {name: frame[name].to_numpy() for name in metadata["feature_columns"]}
        champion = score_predictions(y_true, predict_rows(model, features, rows))
    except Exception as error:  # noqa: BLE001 (a model that cannot predict here, whatever it raises, is not comparable)
        return _not_comparable(version, len(rows), f"it cannot predict these records ({type(error).__name__}: "
                                                   f"{(str(error).splitlines() or [''])[0]})")
    challenger = score_predictions(y_true, trained.y_test_predicted[in_both])
    return Comparison(version, len(rows), challenger, champion, score_baseline(trained.y_train, y_true))


def _unscorable(metadata: Mapping[str, Any], frame: pd.DataFrame, target_column: str) -> str:
    """Why the champion cannot be scored on `frame` at all, or ""."""
    rule = SplitRule.from_dict(metadata.get("split"))
    if rule is None:
        return "it records no split rule this code can apply, so the records it never saw are unknown"
    champion_target = (metadata.get("settings") or {}).get("target_column", target_column)
    if champion_target != target_column:
        return f"it predicts {champion_target}, this run {target_column}"
    missing = [name for name in (*metadata.get("feature_columns", ()), *rule.key_columns)
               if name not in frame.columns]
    if missing:
        return f"the records have no usable column {', '.join(dict.fromkeys(missing))}"
    return ""


def _not_comparable(version: str, records: int, problem: str) -> Comparison:
    logger.warning("deployed model %s is not comparable: %s", version, problem)
    return Comparison(version, records, problem=problem)


def decide_deployment(evaluation: Evaluation, comparison: Comparison | None, rules: GateRules,
                      same_data: bool = False) -> tuple[bool, str]:
    """Deploy a challenger that passed its thresholds and whose test RMSE on the common records is at most
    `rules.tolerance` above the champion's there; with `rules.replace_champion`, whatever the comparison.

    Args:
        evaluation: the challenger's evaluation (its `approved` covers the thresholds and the baseline).
        comparison: the two on their common holdout, or None when no model is deployed.
        rules: the tolerance and whether this run replaces the champion.
        same_data: whether the champion was trained on the very data of this run; a challenger with its
            exact metrics is then the same model again and gets no new version.

    Returns:
        Whether to deploy, and why, in words fit for a log line.
    """
    if not evaluation.approved:
        return False, evaluation.reason
    if comparison is None:
        return True, f"test RMSE {evaluation.test.rmse:.3f} passes the thresholds and no model is deployed yet"
    verdict = _compare(comparison, rules.tolerance, same_data)
    if rules.replace_champion and not _identical(comparison, same_data):
        return True, f"replaces deployed model {comparison.champion_version} (--replace-champion): {verdict[1]}"
    return verdict


def _compare(comparison: Comparison, tolerance: float, same_data: bool) -> tuple[bool, str]:
    version = comparison.champion_version
    if not comparison.comparable:
        return False, f"not comparable with deployed model {version}: {comparison.problem}; {REMEDY}"
    challenger, champion = comparison.challenger, comparison.champion
    if same_data and _same_metrics(champion, challenger):
        return False, f"identical to deployed model {version} (same data, same test metrics); no new version"
    difference = (f"test RMSE {challenger.rmse:.3f} vs {champion.rmse:.3f} of deployed model {version} "
                  f"on {comparison.records} common test records")
    if challenger.rmse > champion.rmse + tolerance:
        return False, f"{difference}: worse by more than champion_tolerance={tolerance:g}"
    return True, f"{difference}: not worse by more than champion_tolerance={tolerance:g}"


def _identical(comparison: Comparison, same_data: bool) -> bool:
    """The challenger is the champion again: the same data and the same test metrics (replacing it would only
    publish a duplicate version)."""
    return same_data and comparison.comparable and _same_metrics(comparison.champion, comparison.challenger)


def _same_metrics(first: Metrics, second: Metrics) -> bool:
    pairs = zip(asdict(first).values(), asdict(second).values())
    return all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in pairs)

