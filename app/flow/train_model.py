"""TrainModel: the fitted model with true and predicted values of its train/test split."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from app.flow.ingestion import IngestRecords
from app.functions import model as model_module
from app.functions.model import ModelSettings, build_model
from carolbatch.training import contract, epochs, fitting, partial_fit, preprocessing, rows, split as splitting, \
    target_scaling
from carolbatch.training.contract import ProgressReport, describe_training
from carolbatch.training.epochs import ProgressReporter
from carolbatch.training.fitting import TrainedModel, train_model
from carolbatch.training.split import identity_rule, split_by_identity


@inherit_list(IngestRecords)
class TrainModel(AppTask):
    """Produces a `TrainedModel`: app/functions/model.py's model fitted on the train split."""

    code_modules = (model_module, fitting, contract, epochs, partial_fit, preprocessing, rows, splitting,
                    target_scaling)

    test_size = setting_parameter("test_size")
    validation_size = setting_parameter("validation_size")
    random_state = setting_parameter("random_state")
    model_hidden_layers = setting_parameter("model_hidden_layers")
    model_l2regularization = setting_parameter("model_l2regularization")
    model_batch_size = setting_parameter("model_batch_size")
    model_epochs = setting_parameter("model_epochs")
    n_iter_no_change = setting_parameter("n_iter_no_change")
    tol = setting_parameter("tol")
    max_in_memory_rows = setting_parameter("max_in_memory_rows")
    checkpoint_every_epochs = setting_parameter("checkpoint_every_epochs")
    checkpoint_min_seconds = setting_parameter("checkpoint_min_seconds")

    def easy_run(self, inputs) -> TrainedModel:
        (records,) = inputs
        rule = identity_rule(self.id_column, [*self.feature_columns, self.target_column], self.random_state,
                             self.test_size, self.validation_size)
        split = split_by_identity(records.frame, rule)
        settings = ModelSettings(
            hidden_layers=tuple(self.model_hidden_layers), l2_regularization=self.model_l2regularization,
            batch_size=self.model_batch_size, epochs=self.model_epochs, n_iter_no_change=self.n_iter_no_change,
            tol=self.tol, max_in_memory_rows=self.max_in_memory_rows, random_state=self.random_state,
            feature_columns=tuple(self.feature_columns), categorical_columns=tuple(self.categorical_columns))
        model = build_model(settings, len(split.train_rows))
        checkpoints = self.training_checkpoints(self.checkpoint_every_epochs, self.checkpoint_min_seconds)
        trained = train_model(records.frame, self.feature_columns, self.target_column, split, model,
                              ProgressReporter(self.show_progress), checkpoints)
        self.show_status(describe_training(trained.training), 100.0)
        return trained

    def show_progress(self, report: ProgressReport) -> None:
        """The epoch (or step) in luigid's visualiser (and the Carol task log through the log line it throttles)."""
        self.show_status(report.describe(), report.percent)

    def show_status(self, message: str, percent: float) -> None:
        # Luigi sets these callbacks only while a worker runs the task.
        if self.set_status_message is not None:
            self.set_status_message(message)
        if self.set_progress_percentage is not None:
            self.set_progress_percentage(round(percent))
