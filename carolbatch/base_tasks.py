"""The base task of each platform role: an app's task subclasses one, names its own settings and upstream tasks, and
calls one method. The base owns what every app shares: the platform settings the role reads, the platform code that
decides its output (fingerprinted: a platform change reruns the role), and its mechanics (reading in either mode,
the split, checkpoints and progress, thresholds, the registry and its locks, the lineage)."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import luigi

from carolbatch import class_plots, deployment, evaluation, gate, metrics, problem, registry, report
from carolbatch.deployment import DecisionReport, Deployment, deploy_challenger, stale_decision_reason
from carolbatch.evaluation import THRESHOLD_NAMES, Evaluation, Thresholds, evaluate_model
from carolbatch.gate import GateRules
from carolbatch.planning import report_name
from carolbatch.records import sources, staging as staging_records, values
from carolbatch.records.sources import Records, read_records, validate_records
from carolbatch.records.staging import STAGING_KEY, read_staging_records
from carolbatch.registry import make_version_id
from carolbatch.report import build_plots, format_metrics_table, metric_rows, render_decision_report
from carolbatch.settings.declaration import declare_settings
from carolbatch.settings.platform import PLATFORM_SETTINGS
from carolbatch.storage import columnar
from carolbatch.tasks import LINEAGE_KEY, AppTask, setting_parameter
from carolbatch.training import (checkpoints, contract, epochs, fitting, labels, partial_fit, preprocessing, rows,
                                 split as splitting, target_scaling)
from carolbatch.training.contract import Model, ProgressReport, describe_training
from carolbatch.training.epochs import ProgressReporter
from carolbatch.training.fitting import TrainedModel, train_model
from carolbatch.training.split import identity_rule, split_by_identity

logger = logging.getLogger(__name__)
# Each role fingerprints this module too: its methods decide the role's output.
_THIS = sys.modules[__name__]
_PLATFORM = declare_settings(PLATFORM_SETTINGS)
# Parameters that are run mechanics, not settings a model was made with (left out of the report's settings).
_MECHANICS = ("data_fingerprint", "champion_columns", "carol_mode", "cloud_targets", "replace_champion", "target_dir",
              "registry_dir")


def _platform(name: str) -> luigi.Parameter:
    return setting_parameter(_PLATFORM, name)


class RecordsTask(AppTask):
    """The records role: `read_records()` gives the validated records of `data_path` (local) or of the staging table
    `input_connector`/`input_staging` (Carol mode)."""

    code_modules = (sources, values, columnar, staging_records, _THIS)

    data_path = _platform("data_path")
    input_connector = _platform("input_connector")
    # Data sources: each brings its fingerprint parameter (`data_path_fingerprint`, `input_staging_fingerprint`),
    # so the content read, not the name, decides reuse.
    input_staging = _platform("input_staging")
    feature_columns = _platform("feature_columns")
    categorical_columns = _platform("categorical_columns")
    target_column = _platform("target_column")
    id_column = _platform("id_column")
    float32 = _platform("float32")
    # The deployed model's features this run does not use: read as well, so it is scored on the same rows.
    champion_columns = luigi.ListParameter(default=())

    def read_records(self) -> Records:
        """Id (if any), float features (blanks as NaN) or text categories, and the target as the source holds it
        (numbers, or text labels), checked."""
        # Carol staging always has its key: records without an id column go by their mdmId there.
        id_column = self.id_column or (STAGING_KEY if self.carol_mode else None)
        float_dtype = "float32" if self.float32 else "float64"
        numeric = [name for name in self.feature_columns if name not in self.categorical_columns]
        columns = [*([id_column] if id_column else []), *self.feature_columns, self.target_column]
        if self.carol_mode:
            # `input_staging` is a staging name of `input_connector`, or `connector/staging`.
            connector, staging = type(self).input_staging.data_source.address(self.input_staging, self.input_connector)
            source = f"Carol staging {connector}/{staging}"
            frame = read_staging_records(self.run_context().bigquery_reader(), connector, staging, columns, float_dtype,
                                         self.champion_columns, numeric, (self.target_column,))
        else:
            source = self.data_path
            frame = read_records(Path(self.data_path), columns, numeric, float_dtype, self.champion_columns,
                                 expected_fingerprint=self.data_path_fingerprint, id_column=id_column,
                                 native_columns=(self.target_column,))
        records = validate_records(frame, self.feature_columns, self.target_column, id_column, source,
                                   float_dtype, self.champion_columns, self.categorical_columns)
        logger.info("ingested %d records from %s", len(records.frame), source)
        return records


class ModelTask(AppTask):
    """The model role: `train(records, build)` splits the records by identity and trains the model `build(train_rows)`
    makes, with checkpoints and progress in luigid's visualiser."""

    code_modules = (fitting, contract, epochs, partial_fit, preprocessing, rows, splitting, target_scaling, labels,
                    problem, checkpoints, _THIS)

    test_size = _platform("test_size")
    validation_size = _platform("validation_size")
    random_state = _platform("random_state")
    max_in_memory_rows = _platform("max_in_memory_rows")
    checkpoint_every_epochs = _platform("checkpoint_every_epochs")
    checkpoint_min_seconds = _platform("checkpoint_min_seconds")

    def train(self, records: Records, build: Callable[[int], Model]) -> TrainedModel:
        """The model `build` makes for the number of train rows, fitted on the train part of `records`."""
        rule = identity_rule(self.id_column, [*self.feature_columns, self.target_column], self.random_state,
                             self.test_size, self.validation_size)
        split = split_by_identity(records.frame, rule)
        kept = self.training_checkpoints(self.checkpoint_every_epochs, self.checkpoint_min_seconds)
        trained = train_model(records.frame, self.feature_columns, self.target_column, split,
                              build(len(split.train_rows)), ProgressReporter(self.show_progress), kept,
                              id_column=self.id_column or (STAGING_KEY if self.carol_mode else None))
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


class EvaluationTask(AppTask):
    """The evaluation role: `evaluate(trained)` scores the model and a baseline on the metrics of its kind of problem,
    checks the thresholds on the decision metric and draws the report's plots."""

    code_modules = (evaluation, metrics, report, class_plots, _THIS)

    decision_metric = _platform("decision_metric")
    min_improvement_over_baseline = _platform("min_improvement_over_baseline")
    # One parameter per threshold setting (evaluation.THRESHOLD_NAMES): those of the model's kind apply.
    max_test_mse = _platform("max_test_mse")
    max_test_mae = _platform("max_test_mae")
    max_test_rmse = _platform("max_test_rmse")
    min_test_r2 = _platform("min_test_r2")
    max_test_log_loss = _platform("max_test_log_loss")
    min_test_roc_auc = _platform("min_test_roc_auc")
    min_test_accuracy = _platform("min_test_accuracy")
    min_test_balanced_accuracy = _platform("min_test_balanced_accuracy")
    min_test_f1 = _platform("min_test_f1")
    max_test_brier = _platform("max_test_brier")

    def evaluate(self, trained: TrainedModel) -> Evaluation:
        limits = {name: getattr(self, name) for name in THRESHOLD_NAMES}
        result = evaluate_model(trained, Thresholds(limits, self.min_improvement_over_baseline, self.decision_metric))
        logger.info("%s model, metrics:\n%s", result.problem.describe(), format_metrics_table(metric_rows(result)))
        logger.info("thresholds %s: %s", "passed" if result.approved else "failed", result.reason)
        return dataclasses.replace(result, files=build_plots(trained))


class DeploymentTask(AppTask):
    """The deployment role: `deploy(trained, evaluated, records)` publishes the challenger to the deploy app's
    registry if it beats (or ties) the champion on the records both held out; either way the decision's report.
    Done only while its decision holds."""

    code_modules = (deployment, evaluation, gate, registry, report, metrics, _THIS)

    deploy_app = _platform("deploy_app")
    champion_tolerance = _platform("champion_tolerance")
    champion_min_improvement = _platform("champion_min_improvement")
    champion_confidence = _platform("champion_confidence")
    registry_dir = _platform("registry_dir")
    # `run.py --replace-champion`: this run's challenger replaces a champion it is not comparable with (or
    # worse than); the run forces this task, so the flag never outlives its run.
    replace_champion = luigi.BoolParameter(default=False, significant=False)

    def model_registry(self):
        return self.run_context().registry_store(self.carol_mode, self.registry_dir, self.deploy_app)

    def complete(self) -> bool:
        """Done only while the decision holds: the model it decided about (the version it deployed, or the champion
        it was refused against) is still the current one; a rollback or another run's deploy makes it decide again.

        The decision is read from the output's record, so a rerun in Carol downloads no output.
        """
        if not super().complete():
            return False
        decision = self.output().summary()
        if decision is None:
            return False
        stale = stale_decision_reason(self.model_registry(), self.deploy_app, Deployment.from_summary(decision))
        if stale:
            logger.info("%s", stale)
        return stale is None

    def output_summary(self, value: Deployment) -> dict:
        return value.as_summary()

    def deploy(self, trained: TrainedModel, evaluated: Evaluation, records: Records) -> Deployment:
        version = make_version_id(datetime.now(timezone.utc), self.identity())
        params = self.get_execution_params()
        # The lineage tells clean-up (`run.py --gc`) which targets produced the deployed model.
        settings = {**params, LINEAGE_KEY: self.lineage()}
        rules = GateRules(self.target_column, self.champion_tolerance, trained.split.rule, self.replace_champion,
                          metric=evaluated.decision_metric, min_improvement=self.champion_min_improvement,
                          confidence=self.champion_confidence)
        made_with = {name: value for name, value in params.items()
                     if name not in _MECHANICS and not name.endswith("_fingerprint")}
        render = partial(render_decision_report, trained, evaluated, records, self.data_fingerprint, made_with)
        page = DecisionReport(render, self.target_store(), report_name(self.output().name))
        with self.run_context().registry_writes():
            return deploy_challenger(self.model_registry(), self.deploy_app, version, trained, evaluated, records,
                                     rules, settings, page)
