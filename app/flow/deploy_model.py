"""DeployModel: the approved model published to the deploy app's registry."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, registry_store
from app.flow.evaluate_model import EvaluateModel
from app.flow.train_model import TrainModel
from app.functions import registry
from app.functions.registry import Deployment, build_metadata, make_version_id, publish_model

logger = logging.getLogger(__name__)


@inherit_list(TrainModel, EvaluateModel)
class DeployModel(AppTask):
    """Produces a `Deployment`: the version published, or none and why."""

    code_modules = (registry,)

    deploy_app = luigi.Parameter()
    registry_dir = luigi.Parameter(significant=False)

    def easy_run(self, inputs) -> Deployment:
        trained, evaluation = inputs
        if not evaluation.approved:
            logger.warning("model not deployed: %s", evaluation.reason)
            return Deployment(version=None, reason=evaluation.reason)
        store = registry_store(self.carol_mode, self.registry_dir, self.deploy_app)
        version = make_version_id(datetime.now(timezone.utc), self.identity())
        metadata = build_metadata(version, self.get_execution_params(), trained, evaluation)
        publish_model(store, self.deploy_app, version, trained.model, metadata)
        return Deployment(version=version, reason=evaluation.reason)
