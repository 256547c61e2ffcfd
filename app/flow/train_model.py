"""TrainModel: the fitted model with true and predicted values of its train/test split."""

from __future__ import annotations

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask
from app.flow.ingest_records import IngestRecords
from app.functions import modeling
from app.functions.modeling import TrainedModel, build_model, split_records, train_model


@inherit_list(IngestRecords)
class TrainModel(AppTask):
    """Produces a `TrainedModel`: StandardScaler + MLPRegressor fitted on the train split."""

    code_modules = (modeling,)

    test_size = luigi.FloatParameter()
    random_state = luigi.IntParameter()
    model_l2regularization = luigi.FloatParameter()
    model_epochs = luigi.IntParameter()
    max_in_memory_rows = luigi.IntParameter()

    def easy_run(self, inputs) -> TrainedModel:
        (records,) = inputs
        split = split_records(len(records.frame), self.test_size, self.random_state)
        model = build_model(self.model_l2regularization, self.model_epochs, self.random_state)
        return train_model(
            records.frame, self.feature_columns, self.target_column, split, model, self.max_in_memory_rows
        )
