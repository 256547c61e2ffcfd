"""DeployModel: the challenger published to the deploy app's registry if it beats (or ties) the champion."""

from __future__ import annotations

from datetime import datetime, timezone

from pycarol.pipeline import inherit_list

from app.flow.commons import LINEAGE_KEY, AppTask, setting_parameter
from app.flow.evaluate_model import EvaluateModel
from app.flow.ingestion import IngestRecords
from app.flow.train_model import TrainModel
from carolbatch import deployment, evaluation, registry, report
from carolbatch.deployment import Deployment, deploy_challenger, deployment_is_current
from carolbatch.registry import make_version_id


@inherit_list(TrainModel, EvaluateModel, IngestRecords)
class DeployModel(AppTask):
    """Produces a `Deployment`: the version published, or none and why."""

    code_modules = (deployment, evaluation, registry, report)

    deploy_app = setting_parameter("deploy_app")
    champion_tolerance = setting_parameter("champion_tolerance")
    registry_dir = setting_parameter("registry_dir")

    def model_registry(self):
        return self.run_context().registry_store(self.carol_mode, self.registry_dir, self.deploy_app)

    def complete(self) -> bool:
        """Done only while the decision holds: the champion can change (a rollback, another run) after it.

        The decision is read from the output's record, so a rerun in Carol downloads no output.
        """
        if not super().complete():
            return False
        decision = self.output().summary()
        return decision is not None and deployment_is_current(self.model_registry(), self.deploy_app,
                                                              Deployment.from_summary(decision))

    def output_summary(self, value: Deployment) -> dict:
        return value.as_summary()

    def easy_run(self, inputs) -> Deployment:
        trained, evaluated, records = inputs
        version = make_version_id(datetime.now(timezone.utc), self.identity())
        # The lineage tells clean-up (`run.py --gc`) which targets produced the deployed model.
        settings = {**self.get_execution_params(), LINEAGE_KEY: self.lineage()}
        with self.run_context().registry_writes():
            return deploy_challenger(self.model_registry(), self.deploy_app, version, trained, evaluated, records,
                                     self.target_column, self.champion_tolerance, settings)
