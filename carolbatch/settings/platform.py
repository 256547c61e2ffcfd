"""The settings every app has: where the records come from, where targets and models go, the split, the gate
and the online app. Where only the app can know a value (its columns, its data, its deploy app) there is no
default here: the app supplies one in its own declaration (see `declare_settings`)."""

from __future__ import annotations

import math

from carolbatch.metrics import METRICS, Metric
from carolbatch.settings.declaration import NO_DEFAULT, Setting
from carolbatch.settings.kinds import Choice, DataFile, Flag, Names, Real, StagingTable, Text, Whole

SHARE = Real(0.0, 1.0, low_open=True, high_open=True)
# The metrics bounded in [0, 1] (a limit outside cannot be met); the others are at least 0 but R², at most 1.
_UNIT_METRICS = ("roc_auc", "accuracy", "balanced_accuracy", "f1", "brier")


def _threshold_setting(metric: Metric) -> Setting:
    """`max_test_<metric>` (lower is better) or `min_test_<metric>` (higher is), empty by default."""
    if metric.name in _UNIT_METRICS:
        kind = Real(0.0, 1.0)
    elif metric.name == "r2":
        kind = Real(-math.inf, 1.0)
    else:
        kind = Real(0.0, low_open=True)
    side = "at least" if metric.higher_is_better else "at most"
    return Setting(metric.threshold_setting, kind, None, f"deploy only if test {metric.label} is {side} this",
                   optional=True)


THRESHOLD_SETTINGS = tuple(_threshold_setting(metric) for metric in METRICS.values())

PLATFORM_SETTINGS = (
    Setting("input_connector", Text(), NO_DEFAULT, "Carol connector of the staging table (Carol mode)",
            significant=False),
    Setting("input_staging", StagingTable("input_connector"), NO_DEFAULT, "Carol staging table (Carol mode)",
            significant=False),
    Setting("data_path", DataFile(), NO_DEFAULT, "CSV or Parquet file read in local mode", significant=False),
    Setting("feature_columns", Names(), NO_DEFAULT, "columns the model learns from"),
    Setting("categorical_columns", Names(allow_empty=True), (),
            "features holding categories (text), encoded by the model; the other features are numbers"),
    Setting("target_column", Text(), NO_DEFAULT, "column to predict"),
    Setting("id_column", Text(), NO_DEFAULT, "row key; empty: the records have none (Carol mode uses mdmId)",
            optional=True),
    Setting("test_size", SHARE, 0.2, "share of records held out for testing"),
    Setting("validation_size", SHARE, 0.1, "share of the train split held out for early stopping"),
    Setting("random_state", Whole(0, 2**32 - 1), 1, "seed of the split and of the model"),
    Setting("decision_metric", Choice(*METRICS), None,
            "the metric a model must win on (threshold, baseline, champion); empty: rmse for a regressor, log_loss "
            "for a classifier", optional=True),
    *THRESHOLD_SETTINGS,
    Setting("champion_tolerance", Real(0.0), 0.0,
            "how much worse than the deployed model a new one may be, in the decision metric's units"),
    Setting("champion_min_improvement", Real(0.0, 1.0, high_open=True), 0.0,
            "how much better than the deployed model a new one must be, as a share of its decision metric "
            "(0.02: 2% better); 0: not worse"),
    Setting("champion_confidence", Real(0.5, 1.0, low_open=True, high_open=True), None,
            "deploy only when the paired bootstrap interval at this confidence shows the new model not worse than "
            "the deployed one (by more than champion_tolerance); empty: the difference itself decides",
            optional=True),
    Setting("min_improvement_over_baseline", Real(0.0), 0.0,
            "deploy only if the decision metric is better than the baseline's (train mean or class prior) by more "
            "than this"),
    Setting("deploy_app", Text(plain=True), NO_DEFAULT, "the online app that receives the model"),
    Setting("target_dir", Text(), "luigi_targets", "local folder of the pipeline targets", significant=False),
    Setting("registry_dir", Text(), "models", "local model registry folder", significant=False),
    Setting("float32", Flag(), False, "keep features and target as float32 (half the memory; results differ "
            "slightly)"),
    Setting("max_in_memory_rows", Whole(1), 1000000,
            "above this many training records, train by mini-batch `partial_fit` on chunks"),
    Setting("checkpoint_every_epochs", Whole(1), 1,
            "keep a training checkpoint (to go on from after a kill) after every this many epochs",
            significant=False),
    Setting("checkpoint_min_seconds", Real(0.0), 10.0,
            "no training checkpoint sooner than this many seconds after the previous one (or the start of training)",
            significant=False),
    Setting("model_poll_seconds", Real(0.1, 86400.0), 30.0,
            "online app: how often it checks the deploy app's `current` version"),
    Setting("max_request_records", Whole(1, 100000), 10000,
            "online app: the most records one `/predict` request may hold"),
    Setting("cloud_target", Flag(), None, "keep pipeline targets in Carol storage; empty: only in Carol mode "
            "(pycarol's `CLOUD_TARGET` variable sets it too)", optional=True, significant=False),
)
