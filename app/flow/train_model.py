"""TrainModel: this app's model (app/functions/model.py) fitted on the train part of the records."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import ModelTask, setting_parameter
from app.flow.ingestion import IngestRecords
from app.functions.model import ModelSettings, build_model
from carolbatch.training.fitting import TrainedModel


@inherit_list(IngestRecords)
class TrainModel(ModelTask):
    """Produces a `TrainedModel`: the model with the true and predicted targets of its train and test parts."""

    model_hidden_layers = setting_parameter("model_hidden_layers")
    model_l2regularization = setting_parameter("model_l2regularization")
    model_batch_size = setting_parameter("model_batch_size")
    model_epochs = setting_parameter("model_epochs")
    n_iter_no_change = setting_parameter("n_iter_no_change")
    tol = setting_parameter("tol")

    def easy_run(self, inputs) -> TrainedModel:
        (records,) = inputs
        settings = ModelSettings(
            hidden_layers=tuple(self.model_hidden_layers), l2_regularization=self.model_l2regularization,
            batch_size=self.model_batch_size, epochs=self.model_epochs, n_iter_no_change=self.n_iter_no_change,
            tol=self.tol, max_in_memory_rows=self.max_in_memory_rows, random_state=self.random_state,
            feature_columns=tuple(self.feature_columns), categorical_columns=tuple(self.categorical_columns))
        return self.train(records, lambda train_rows: build_model(settings, train_rows))
