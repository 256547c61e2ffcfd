"""EvaluateModel: train and test metrics of the trained model and the deployment decision."""

from __future__ import annotations

import logging

from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask
from app.flow.train_model import TrainModel
from app.functions import evaluation
from app.functions.evaluation import Evaluation, evaluate_model, format_metrics_table

logger = logging.getLogger(__name__)


@inherit_list(TrainModel)
class EvaluateModel(AppTask):
    """Produces an `Evaluation`: MSE, MAE, RMSE and R² for train and test, and whether to deploy."""

    code_modules = (evaluation,)

    def easy_run(self, inputs) -> Evaluation:
        (trained,) = inputs
        result = evaluate_model(trained)
        logger.info("model metrics:\n%s", format_metrics_table(result))
        logger.info("deployment %s: %s", "approved" if result.approved else "refused", result.reason)
        return result
