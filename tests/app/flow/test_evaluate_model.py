"""EvaluateModel run by Luigi on the app's data: metrics, threshold check and report files in its output."""

from __future__ import annotations

import luigi

from carolbatch.tasks import pipeline_params
from app.flow.evaluate_model import EvaluateModel
from carolbatch.evaluation import score_predictions
from carolbatch.report import LEARNING_CURVE_PLOT, PREDICTED_PLOT, RESIDUALS_PLOT
from tests.app.conftest import default_settings
from tests.conftest import APP_DATA, app_fingerprint


def evaluate_task(tmp_path, **overrides) -> EvaluateModel:
    settings = default_settings(data_path=str(APP_DATA), target_dir=str(tmp_path / "t"),
                                registry_dir=str(tmp_path / "m"), model_epochs=300, **overrides)
    return EvaluateModel(**pipeline_params(settings, {"data_path": app_fingerprint()}, carol_mode=False, cloud_targets=False))


def test_evaluation_holds_metrics_of_the_trained_model_and_its_plots(tmp_path):
    task = evaluate_task(tmp_path)
    assert luigi.build([task], local_scheduler=True, workers=1)
    result = task.output().load()
    trained = task.requires()[0].output().load()
    assert result.test == score_predictions(trained.y_test, trained.y_test_predicted)
    assert result.approved and result.baseline_test.rmse > result.test.rmse
    # The report is the deploy step's: it opens with the decision.
    assert set(result.files) == {LEARNING_CURVE_PLOT, RESIDUALS_PLOT, PREDICTED_PLOT}
    assert len(trained.validation_losses) == result.training["epochs_run"]


def test_thresholds_are_checked_and_changing_one_reuses_training(tmp_path):
    assert luigi.build([evaluate_task(tmp_path)], local_scheduler=True, workers=1)
    strict = evaluate_task(tmp_path, max_test_rmse=1.0)
    training_target = strict.requires()[0].output()
    trained_before = training_target.store.local_copy(training_target.name).stat().st_mtime_ns

    assert luigi.build([strict], local_scheduler=True, workers=1)

    result = strict.output().load()
    assert not result.approved and "above max_test_rmse=1" in result.reason
    assert training_target.store.local_copy(training_target.name).stat().st_mtime_ns == trained_before
