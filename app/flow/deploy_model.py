"""DeployModel: the challenger published to the deploy app's registry if it beats (or ties) the champion on the
records both held out; either way the decision's report."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import partial

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import LINEAGE_KEY, AppTask, setting_parameter
from app.flow.evaluate_model import EvaluateModel
from app.flow.ingestion import IngestRecords
from app.flow.train_model import TrainModel
from app.functions.settings import SETTINGS
from carolbatch import deployment, evaluation, gate, registry, report
from carolbatch.deployment import DecisionReport, Deployment, deploy_challenger, stale_decision_reason
from carolbatch.gate import GateRules
from carolbatch.planning import report_name
from carolbatch.registry import make_version_id
from carolbatch.report import render_decision_report

logger = logging.getLogger(__name__)


@inherit_list(TrainModel, EvaluateModel, IngestRecords)
class DeployModel(AppTask):
    """Produces a `Deployment`: the version published, or none and why, and where its report is."""

    code_modules = (deployment, evaluation, gate, registry, report)

    deploy_app = setting_parameter("deploy_app")
    champion_tolerance = setting_parameter("champion_tolerance")
    registry_dir = setting_parameter("registry_dir")
    # `run.py --replace-champion`: this run's challenger replaces a champion it is not comparable with (or
    # worse than); the run forces this task, so the flag never outlives its run.
    replace_champion = luigi.BoolParameter(default=False, significant=False)

    def model_registry(self):
        return self.run_context().registry_store(self.carol_mode, self.registry_dir, self.deploy_app)

    def complete(self) -> bool:
        """Done only while the decision holds: the champion can change (a rollback, another run) after it.

        The decision is read from the output's record, so a rerun in Carol downloads no output.
        """
        if not super().complete():
            return False
        decision = self.output().summary()
        if decision is None:
            return False
        stale = stale_decision_reason(self.model_registry(), self.deploy_app, Deployment.from_summary(decision))
        if stale:
            logger.info("%s", stale)
        return stale is None

    def output_summary(self, value: Deployment) -> dict:
        return value.as_summary()

    def easy_run(self, inputs) -> Deployment:
        trained, evaluated, records = inputs
        version = make_version_id(datetime.now(timezone.utc), self.identity())
        params = self.get_execution_params()
        # The lineage tells clean-up (`run.py --gc`) which targets produced the deployed model.
        settings = {**params, LINEAGE_KEY: self.lineage()}
        rules = GateRules(self.target_column, self.champion_tolerance, trained.split.rule, self.replace_champion)
        user_settings = {name: value for name, value in params.items() if name in SETTINGS}
        render = partial(render_decision_report, trained, evaluated, records, self.data_fingerprint, user_settings)
        page = DecisionReport(render, self.target_store(), report_name(self.output().name))
        with self.run_context().registry_writes():
            return deploy_challenger(self.model_registry(), self.deploy_app, version, trained, evaluated, records,
                                     rules, settings, page)
