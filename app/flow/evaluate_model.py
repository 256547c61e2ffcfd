"""EvaluateModel: metrics of the trained model and of a mean predictor, the threshold check, and the plots."""

from __future__ import annotations

import dataclasses
import logging

from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from app.flow.train_model import TrainModel
from carolbatch import evaluation, report
from carolbatch.evaluation import Evaluation, Thresholds, evaluate_model
from carolbatch.report import build_plots, format_metrics_table, metric_rows

logger = logging.getLogger(__name__)


@inherit_list(TrainModel)
class EvaluateModel(AppTask):
    """Produces an `Evaluation`: metrics of model and baseline, the threshold check and the report's plots."""

    code_modules = (evaluation, report)

    max_test_rmse = setting_parameter("max_test_rmse")
    min_test_r2 = setting_parameter("min_test_r2")
    min_improvement_over_baseline = setting_parameter("min_improvement_over_baseline")

    def easy_run(self, inputs) -> Evaluation:
        (trained,) = inputs
        result = evaluate_model(trained, Thresholds(self.max_test_rmse, self.min_test_r2,
                                                       self.min_improvement_over_baseline))
        logger.info("model metrics:\n%s", format_metrics_table(metric_rows(result)))
        logger.info("thresholds %s: %s", "passed" if result.approved else "failed", result.reason)
        return dataclasses.replace(result, files=build_plots(trained))
