"""Every setting of the app, declared once: name, kind (type and bounds), default and meaning.

To add a setting, add one `Setting(...)` to `DECLARED` and use it: in a task as
`name = setting_parameter("name")` (app/flow/commons.py), elsewhere as `settings.name`. Parsing,
validation, the settings.toml check, `run.py --settings` and the Luigi parameter follow from this entry;
`make settings-doc` rewrites the README table from it (a test fails until you do).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from carolbatch.settings.kinds import AutoOrWhole, Flag, Kind, Names, Real, Sizes, Text, Whole


@dataclass(frozen=True)
class Setting:
    """One setting. `optional` settings may be left empty (None); `significant=False` ones never change a
    result, so they are not part of any task's identity."""

    name: str
    kind: Kind
    default: Any
    meaning: str
    optional: bool = False
    significant: bool = True


BOSTON_FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")

DECLARED = (
    Setting("input_connector", Text(), "boston_house_price", "Carol connector of the staging table (Carol mode)",
            significant=False),
    Setting("input_staging", Text(), "samples", "Carol staging table (Carol mode)", significant=False),
    Setting("data_path", Text(), "data/boston_house_prices.csv", "CSV or Parquet file read in local mode",
            significant=False),
    Setting("feature_columns", Names(), BOSTON_FEATURES, "columns the model learns from"),
    Setting("target_column", Text(), "target", "column to predict"),
    Setting("id_column", Text(), "sample", "row key"),
    Setting("test_size", Real(0.0, 1.0, low_open=True, high_open=True), 0.2,
            "share of records held out for testing"),
    Setting("random_state", Whole(0, 2**32 - 1), 1, "seed of the split and of the network"),
    Setting("model_hidden_layers", Sizes(1), (128, 64), "sizes of the MLP's hidden layers"),
    Setting("model_l2regularization", Real(0.0), 1.0, "`alpha` (L2 penalty) of the MLP"),
    Setting("model_epochs", Whole(1), 1000, "at most this many passes over the training rows"),
    Setting("model_batch_size", AutoOrWhole(1), "auto",
            "mini-batch size: `auto` (200 on small data, about 1/1000 of the training rows, at most 1024, on large "
            "data) or a number"),
    Setting("validation_size", Real(0.0, 1.0, low_open=True, high_open=True), 0.1,
            "share of the train split held out for early stopping"),
    Setting("n_iter_no_change", Whole(1), 10, "stop after this many epochs in a row without improvement"),
    Setting("tol", Real(0.0), 0.0001,
            "an epoch improves only if the validation MSE falls by more than `tol` per 1000 training rows in it"),
    Setting("max_test_rmse", Real(0.0, low_open=True), None, "deploy only if test RMSE is at most this",
            optional=True),
    Setting("min_test_r2", Real(-math.inf, 1.0), None, "deploy only if test R² is at least this", optional=True),
    Setting("champion_tolerance", Real(0.0), 0.0,
            "how much worse (test RMSE) than the deployed model a new one may be"),
    Setting("min_improvement_over_baseline", Real(0.0), 0.0,
            "deploy only if test RMSE is below the mean predictor's (always the train mean) by more than this"),
    Setting("deploy_app", Text(plain=True), "bostonhouseonline", "the online app that receives the model"),
    Setting("target_dir", Text(), "luigi_targets", "local folder of the pipeline targets", significant=False),
    Setting("registry_dir", Text(), "models", "local model registry folder", significant=False),
    Setting("float32", Flag(), False, "keep features and target as float32 (half the memory; results differ "
            "slightly)"),
    Setting("max_in_memory_rows", Whole(1), 1000000,
            "above this many training records, train by mini-batch `partial_fit` on chunks"),
    Setting("model_poll_seconds", Real(0.1, 86400.0), 30.0,
            "online app: how often it checks the deploy app's `current` version"),
    Setting("max_request_records", Whole(1, 100000), 10000, "online app: the most records one `/predict` request may hold"),
    Setting("cloud_target", Flag(), None, "keep pipeline targets in Carol storage; empty: only in Carol mode "
            "(pycarol's `CLOUD_TARGET` variable sets it too)", optional=True, significant=False),
    Setting("test_write_delay_seconds", Real(0.0), 0.0,
            "test hook: pause inside every target write, so a test can kill a run mid-write", significant=False),
)

SETTINGS_BY_NAME = {setting.name: setting for setting in DECLARED}
SETTING_NAMES = tuple(SETTINGS_BY_NAME)


class SettingsError(ValueError):
    """A setting is unknown, missing or has a value outside what is allowed."""


def _as_dict(self) -> dict[str, Any]:
    """Plain, JSON-friendly values (lists for tuples)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in dataclasses.asdict(self).items()
    }


Settings = dataclasses.make_dataclass(
    "Settings",
    [(setting.name, setting.kind.python_type | None if setting.optional else setting.kind.python_type)
     for setting in DECLARED],
    frozen=True,
    namespace={"as_dict": _as_dict, "__doc__": "Everything that shapes a run. Built only by `build_settings`.",
               "__module__": __name__},
)


def declared_defaults() -> dict[str, Any]:
    """The declared default of every setting, the lowest settings layer."""
    return {setting.name: setting.default for setting in DECLARED}
