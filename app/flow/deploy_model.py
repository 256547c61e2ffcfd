"""DeployModel: the challenger published to the deploy app's registry if it beats (or ties) the champion."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, registry_store
from app.flow.evaluate_model import EvaluateModel
from app.flow.ingestion import IngestRecords
from app.flow.train_model import TrainModel
from app.functions import evaluation, registry, report
from app.functions.evaluation import decide_deployment, score_champion
from app.functions.registry import Deployment, deployment_is_current, load_current, make_version_id, publish_model
from app.functions.report import build_metadata, format_metrics_table

logger = logging.getLogger(__name__)


@inherit_list(TrainModel, EvaluateModel, IngestRecords)
class DeployModel(AppTask):
    """Produces a `Deployment`: the version published, or none and why."""

    code_modules = (evaluation, registry, report)

    deploy_app = luigi.Parameter()
    champion_tolerance = luigi.FloatParameter()
    registry_dir = luigi.Parameter(significant=False)

    def model_registry(self):
        return registry_store(self.carol_mode, self.registry_dir, self.deploy_app)

    def complete(self) -> bool:
        """Done only while the decision holds: the champion can change (a rollback, another run) after it."""
        if not super().complete():
            return False
        return deployment_is_current(self.model_registry(), self.deploy_app, self.output().load())

    def easy_run(self, inputs) -> Deployment:
        trained, result, records = inputs
        store = self.model_registry()
        current = load_current(store, self.deploy_app)
        champion = current and score_champion(current.version, current.model, current.feature_columns,
                                              records.frame, self.target_column, trained.split.test_rows)
        if champion and champion.test:
            rows = [("challenger test", result.test), ("champion test", champion.test)]
            logger.info("challenger vs champion %s:\n%s", champion.version, format_metrics_table(rows))
        approved, reason = decide_deployment(result, champion, self.champion_tolerance)
        champion_version = champion.version if champion else None
        if not approved:
            logger.warning("model not deployed: %s", reason)
            return Deployment(version=None, reason=reason, champion=champion_version)
        decision = Deployment(make_version_id(datetime.now(timezone.utc), self.identity()), reason, champion_version)
        logger.info("deploying model version %s: %s", decision.version, reason)
        source = {"source": records.source, "data_fingerprint": self.data_fingerprint}
        metadata = build_metadata(decision.version, self.get_execution_params(), trained, result, source, decision,
                                  champion)
        publish_model(store, self.deploy_app, decision.version, trained.model, metadata, result.files)
        return decision
