"""The deploy step: the challenger against the deployed champion, publication when it wins, and the decision
it records (`Deployment`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from carolbatch.evaluation import Evaluation
from carolbatch.problem import plain_label
from carolbatch.gate import Comparison, GateRules, compare_with_champion, decide_deployment
from carolbatch.training.fitting import TrainedModel, predict_output
from carolbatch.registry import (RegistryError, load_current, publish_model, read_current_version,
                                 registry_name, repair_pointers)
from carolbatch.online.ranges import training_ranges
from carolbatch.report import REPORT_FILE, build_metadata, format_metrics_table
from carolbatch.records.sources import Records
from carolbatch.storage.stores import ObjectStore, write_bytes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    """What a deploy step did: the version it published (None when it published nothing), why, the champion
    version it was compared with (None when there was none), the comparison on their common test records (with
    the decision metric and its paired interval), the tolerance, when it was decided and where its report is."""

    version: str | None
    reason: str
    champion: str | None = None
    comparison: Mapping[str, Any] | None = None
    tolerance: float | None = None
    decided_at: str | None = None
    report: str | None = None

    def as_summary(self) -> dict:
        """The decision as JSON facts, kept in the deployment task's checksum record, the run record and the
        version's metadata."""
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: dict) -> Deployment:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{"reason": "", **{key: value for key, value in summary.items() if key in known}})


@dataclass(frozen=True)
class DecisionReport:
    """How the decision's report.html is rendered, and where a refused challenger's goes (beside its targets;
    a published one's goes into its version)."""

    render: Callable[[Deployment], bytes]
    refused_store: ObjectStore
    refused_name: str


def deployment_is_current(store: ObjectStore, deploy_app: str, deployment: Deployment) -> bool:
    """Whether a past deploy decision still holds: the version it deployed, or for a refusal the champion it
    lost to, is still the current model (the registry is an input of the decision)."""
    return stale_decision_reason(store, deploy_app, deployment) is None


def stale_decision_reason(store: ObjectStore, deploy_app: str, deployment: Deployment) -> str | None:
    """Why a past deploy decision no longer holds (the current model is not the one it decided about), or None."""
    current = read_current_version(store, deploy_app)
    decided = deployment.version if deployment.version is not None else deployment.champion
    if decided == current:
        return None
    what = "the version it deployed" if deployment.version is not None else "the champion it was refused against"
    return (f"the deploy decision of {deployment.decided_at or 'an earlier run'} no longer holds: {what}, "
            f"{decided or 'none'}, is not the current model of {deploy_app} ({current or 'none'}); deciding again")


def deploy_challenger(store: ObjectStore, deploy_app: str, version: str, trained: TrainedModel, evaluation: Evaluation,
                      records: Records, rules: GateRules, settings: Mapping[str, Any],
                      report: DecisionReport) -> Deployment:
    """Score the current model and the challenger on their common test records and publish the challenger if
    the gate allows; either way the decision's report is written.

    Args:
        store: the deploy app's registry.
        deploy_app: the app that serves the model.
        version: the id the challenger gets if it is published.
        trained: the challenger.
        evaluation: the challenger's metrics, threshold check and plots.
        records: the ingested records the challenger's split is of.
        rules: the gate's target column, tolerance, split rule and whether to replace the champion.
        settings: the run's settings, kept in the version's metadata.
        report: renders the report, and where a refusal's goes.

    Returns:
        The published version, or none and why.
    """
    current, unusable = _verified_champion(store, deploy_app)
    if unusable is not None and not rules.replace_champion:
        return _refused(_champion_refusal(unusable), report)
    comparison = _comparison(current, unusable, trained, records, rules)
    if comparison and comparison.comparable:
        rows = [("challenger test", comparison.challenger), ("champion test", comparison.champion),
                ("baseline test", comparison.baseline)]
        logger.info("challenger vs champion %s on %d common test records:\n%s", comparison.champion_version,
                    comparison.records, format_metrics_table(rows))
    champion_source = (current.metadata.get("source") or {}) if current else {}
    same_data = isinstance(champion_source, dict) and champion_source.get("data_fingerprint") == settings.get(
        "data_fingerprint")
    approved, reason = decide_deployment(evaluation, comparison, rules, same_data)
    decision = _decision(version if approved else None, reason, comparison, rules)
    if not approved:
        logger.warning("model not deployed: %s", reason)
        return _refused(decision, report)
    decision = dataclasses.replace(decision, report=store.describe(registry_name(deploy_app, version, REPORT_FILE)))
    logger.info("deploying model version %s: %s", version, reason)
    metadata = _version_metadata(version, trained, evaluation, records, rules, settings, decision)
    files = {**evaluation.files, REPORT_FILE: report.render(decision)}
    publish_model(store, deploy_app, version, trained.model, metadata, files, reason=reason)
    return decision


def _comparison(current: Any, unusable: Comparison | None, trained: TrainedModel, records: Records,
                rules: GateRules) -> Comparison | None:
    """The champion and the challenger on their common test records (None without a champion), or `unusable`: a
    champion that does not load is not comparable, so --replace-champion replaces it, the registry's way on when
    it is the only version (nothing to roll back to)."""
    if unusable is not None:
        return unusable
    return current and compare_with_champion(current.version, current.model, current.metadata, trained,
                                             records.frame, rules)


def _version_metadata(version: str, trained: TrainedModel, evaluation: Evaluation, records: Records,
                      rules: GateRules, settings: Mapping[str, Any], decision: Deployment) -> dict:
    """The facts kept beside a published version: build_metadata's, the split rule, the check record, the
    problem, the decision metric and the training ranges of its inputs (the online app's checks)."""
    source = {"source": records.source, "data_fingerprint": settings.get("data_fingerprint")}
    metadata = build_metadata(version, settings, trained, evaluation, source, decision.as_summary())
    metadata.update(split=rules.split.as_dict(), check_record=build_check_record(trained, records),
                    problem=trained.problem.as_dict(), decision_metric=rules.metric,
                    input_ranges=training_ranges(records.frame, trained, settings.get("categorical_columns")))
    return metadata


def _decision(version: str | None, reason: str, comparison: Comparison | None, rules: GateRules) -> Deployment:
    return Deployment(version, reason, comparison.champion_version if comparison else None,
                      comparison.as_dict() if comparison else None, rules.tolerance,
                      datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _refused(decision: Deployment, report: DecisionReport) -> Deployment:
    """The refusal with its report written beside the run's targets."""
    decision = dataclasses.replace(decision, report=report.refused_store.describe(report.refused_name))
    write_bytes(report.refused_store, report.refused_name, report.render(decision))
    return decision


def _verified_champion(store: ObjectStore, deploy_app: str) -> tuple[Any, Comparison | None]:
    """The current version, loaded and verified (None if there is none); when it does not verify or load, no
    model and the champion not comparable, with why."""
    try:
        repaired = repair_pointers(store, deploy_app)
        if repaired:
            logger.warning("repaired %s of %s from its history", " and ".join(repaired), deploy_app)
        return load_current(store, deploy_app), None
    except RegistryError as error:
        return None, Comparison(read_current_version(store, deploy_app), problem=str(error))


def _champion_refusal(unusable: Comparison) -> Deployment:
    """No deploy while the champion does not verify or load, unless --replace-champion: everything stays as it is."""
    reason = (f"{unusable.problem}; roll back to a sound version with run.py --rollback, or run once with "
              f"--replace-champion")
    logger.warning("model not deployed: %s", reason)
    return Deployment(version=None, reason=reason, champion=unusable.champion_version,
                      decided_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def build_check_record(trained: TrainedModel, records: Records) -> dict[str, Any]:
    """One test record's features and the model's answer for it, kept with the version so that a server loading
    the version can check the model it loaded predicts what was deployed. A blank is null, a category its text; a
    classifier's answer is its label and class probabilities (by class, as text)."""
    row = int(trained.split.test_rows[0])
    features = {name: _json_value(records.frame[name].to_numpy()[row]) for name in trained.feature_columns}
    columns = {name: records.frame[name].to_numpy() for name in trained.feature_columns}
    output = predict_output(trained.model, columns, np.array([row]), trained.problem)
    if not trained.problem.is_classification:
        return {"features": features, "prediction": float(output.values[0])}
    return {"features": features, "prediction": plain_label(output.values[0]),
            "probabilities": dict(zip(map(str, trained.problem.classes), output.probabilities[0].tolist()))}


def _json_value(value: Any) -> float | str | None:
    if isinstance(value, str):
        return value
    return None if pd.isna(value) else float(value)
