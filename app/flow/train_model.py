"""TrainModel: the fitted model with true and predicted values of its train/test split."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from app.flow.ingestion import IngestRecords
from carolbatch.training import epochs as training, fitting as modeling
from carolbatch.training.fitting import TrainedModel, build_model, split_records, train_model
from carolbatch.training.epochs import EpochReport, ProgressReporter, StoppingRule, choose_batch_size


@inherit_list(IngestRecords)
class TrainModel(AppTask):
    """Produces a `TrainedModel`: StandardScaler + MLPRegressor fitted on the train split, stopped early."""

    code_modules = (modeling, training)

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

    def easy_run(self, inputs) -> TrainedModel:
        (records,) = inputs
        split = split_records(len(records.frame), self.test_size, self.validation_size, self.random_state)
        batch_size = choose_batch_size(self.model_batch_size, len(split.train_rows))
        model = build_model(self.model_hidden_layers, self.model_l2regularization, batch_size, self.random_state)
        rule = StoppingRule(self.model_epochs, self.n_iter_no_change, self.tol)
        trained = train_model(records.frame, self.feature_columns, self.target_column, split, model, rule,
                              self.max_in_memory_rows, on_epoch=ProgressReporter(self.show_progress))
        summary = trained.training
        self.show_status(f"stopped after epoch {summary.epochs_run} of at most {self.model_epochs}, kept epoch "
                         f"{summary.best_epoch} (validation loss {summary.best_validation_loss:.4f}): "
                         f"{summary.stop_reason}", 100.0)
        return trained

    def show_progress(self, report: EpochReport) -> None:
        """The epoch in luigid's visualiser (and the Carol task log through the log line it throttles)."""
        self.show_status(report.describe(), report.percent)

    def show_status(self, message: str, percent: float) -> None:
        # Luigi sets these callbacks only while a worker runs the task.
        if self.set_status_message is not None:
            self.set_status_message(message)
        if self.set_progress_percentage is not None:
            self.set_progress_percentage(round(percent))
