"""EvaluateModel: the metrics of the trained model and of a baseline, the threshold check, and the plots."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import EvaluationTask
from app.flow.train_model import TrainModel
from carolbatch.evaluation import Evaluation


@inherit_list(TrainModel)
class EvaluateModel(EvaluationTask):
    """Produces an `Evaluation` (its settings: decision_metric, the max_test_/min_test_ thresholds,
    min_improvement_over_baseline)."""

    def easy_run(self, inputs) -> Evaluation:
        (trained,) = inputs
        return self.evaluate(trained)
