"""The deploy step: the challenger against the deployed champion, publication when it wins, and the decision
it records (`Deployment`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from carolbatch.evaluation import Evaluation, decide_deployment, score_champion
from carolbatch.training.fitting import TrainedModel
from carolbatch.registry import (RegistryError, has_version, load_current, publish_model, read_current_version,
                                 repair_pointers)
from carolbatch.report import build_metadata, format_metrics_table
from carolbatch.records.sources import Records
from carolbatch.storage.stores import ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    """What a deploy step did: the version it published (None when it published nothing), why, and
    the champion version it was compared with (None when there was none)."""

    version: str | None
    reason: str
    champion: str | None = None

    def as_summary(self) -> dict:
        """The decision as JSON facts, kept in the deployment task's checksum record."""
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: dict) -> Deployment:
        return cls(summary.get("version"), summary.get("reason", ""), summary.get("champion"))


def deployment_is_current(store: ObjectStore, deploy_app: str, deployment: Deployment) -> bool:
    """Whether a past deploy decision still holds: its version is still in the registry, or, for a
    refusal, the champion it lost to is still the current model."""
    if deployment.version is not None:
        return has_version(store, deploy_app, deployment.version)
    return deployment.champion == read_current_version(store, deploy_app)



def deploy_challenger(store: ObjectStore, deploy_app: str, version: str, trained: TrainedModel, evaluation: Evaluation,
                      records: Records, target_column: str, tolerance: float, settings: Mapping[str, Any]) -> Deployment:
    """Score the current model on the challenger's test rows and publish the challenger if the gate allows.

    Args:
        store: the deploy app's registry.
        deploy_app: the app that serves the model.
        version: the id the challenger gets if it is published.
        trained: the challenger.
        evaluation: the challenger's metrics and threshold check.
        records: the ingested records; the champion is scored on their `trained.split.test_rows`.
        target_column: the column the models predict.
        tolerance: how much higher than the champion's the challenger's test RMSE may be.
        settings: the run's settings, kept in the version's metadata.

    Returns:
        The published version, or none and why.
    """
    current, refused = _verified_champion(store, deploy_app)
    if refused is not None:
        return refused
    champion = current and score_champion(
        current.version, current.model, current.feature_columns, records.frame, target_column, trained.split.test_rows
    )
    if champion and champion.test:
        rows = [("challenger test", evaluation.test), ("champion test", champion.test)]
        logger.info("challenger vs champion %s:\n%s", champion.version, format_metrics_table(rows))
    champion_source = (current.metadata.get("source") or {}) if current else {}
    same_data = isinstance(champion_source, dict) and champion_source.get("data_fingerprint") == settings.get(
        "data_fingerprint")
    approved, reason = decide_deployment(evaluation, champion, tolerance, same_data)
    champion_version = champion.version if champion else None
    if not approved:
        logger.warning("model not deployed: %s", reason)
        return Deployment(version=None, reason=reason, champion=champion_version)
    decision = Deployment(version=version, reason=reason, champion=champion_version)
    logger.info("deploying model version %s: %s", version, reason)
    source = {"source": records.source, "data_fingerprint": settings.get("data_fingerprint")}
    metadata = build_metadata(version, settings, trained, evaluation, source, decision, champion)
    metadata["check_record"] = build_check_record(trained, records)
    publish_model(store, deploy_app, version, trained.model, metadata, evaluation.files)
    return decision


def _verified_champion(store: ObjectStore, deploy_app: str) -> tuple[Any, Deployment | None]:
    """The current version, loaded and verified (None if there is none), or a refusal to deploy when it
    does not verify: a champion that does not verify cannot be compared with, so everything stays as it is."""
    try:
        repaired = repair_pointers(store, deploy_app)
        if repaired:
            logger.warning("repaired %s of %s from its history", " and ".join(repaired), deploy_app)
        return load_current(store, deploy_app), None
    except RegistryError as error:
        reason = f"{error}; roll back to a sound version with run.py --rollback"
        logger.warning("model not deployed: %s", reason)
        return None, Deployment(version=None, reason=reason, champion=read_current_version(store, deploy_app))


def build_check_record(trained: TrainedModel, records: Records) -> dict[str, Any]:
    """One test record's features and the model's prediction for it, kept with the version so that a
    server loading the version can check the model it loaded predicts what was deployed."""
    row = int(trained.split.test_rows[0])
    features = {name: float(records.frame[name].to_numpy()[row]) for name in trained.feature_columns}
    values = np.array([[features[name] for name in trained.feature_columns]], dtype="float64")
    return {"features": features, "prediction": float(trained.model.predict(values)[0])}
