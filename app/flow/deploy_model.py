"""DeployModel: the challenger published to the deploy app's registry if it beats (or ties) the champion on the
records both held out; either way the decision's report."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import DeploymentTask
from app.flow.evaluate_model import EvaluateModel
from app.flow.ingestion import IngestRecords
from app.flow.train_model import TrainModel
from carolbatch.deployment import Deployment


@inherit_list(TrainModel, EvaluateModel, IngestRecords)
class DeployModel(DeploymentTask):
    """Produces a `Deployment`: the version published, or none and why, and where its report is (its settings:
    deploy_app, champion_tolerance, champion_min_improvement, champion_confidence)."""

    def easy_run(self, inputs) -> Deployment:
        trained, evaluated, records = inputs
        return self.deploy(trained, evaluated, records)
