"""This app's settings: the model's own, and the defaults only this app knows (the sample's columns and data).

The platform declares the settings every app has (carolbatch/settings/platform.py); `SETTINGS` is both.
To add a setting, add one `Setting(...)` to `APP_SETTINGS` and use it: in a task as
`name = setting_parameter("name")` (app/flow/commons.py), elsewhere as `settings.name`. Parsing,
validation, the settings.toml check, `run.py --settings` and the Luigi parameter follow from this entry;
`make settings-doc` rewrites the README table from it (a test fails until you do).
"""

from __future__ import annotations

from carolbatch.settings import PLATFORM_SETTINGS, Setting, declare_settings
from carolbatch.settings.kinds import AutoOrWhole, Real, Sizes, Whole

BOSTON_FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")

APP_DEFAULTS = {
    "input_connector": "boston_house_price",
    "input_staging": "samples",
    "data_path": "data/boston_house_prices.csv",
    "feature_columns": BOSTON_FEATURES,
    "target_column": "target",
    "id_column": "sample",
    "deploy_app": "bostonhouseonline",
}

APP_SETTINGS = (
    Setting("model_hidden_layers", Sizes(1), (128, 64), "sizes of the MLP's hidden layers"),
    Setting("model_l2regularization", Real(0.0), 0.1,
            "`alpha` (L2 penalty) of the MLP, which learns the standardised target"),
    Setting("model_epochs", Whole(1), 1000, "at most this many passes over the training rows"),
    Setting("model_batch_size", AutoOrWhole(1), "auto",
            "mini-batch size: `auto` (200 on small data, about 1/1000 of the training rows, at most 1024, on large "
            "data) or a number"),
    Setting("n_iter_no_change", Whole(1), 10, "stop after this many epochs in a row without improvement"),
    Setting("tol", Real(0.0), 0.0001,
            "an epoch improves only if the validation MSE falls by more than `tol` per 1000 training rows in it"),
)

SETTINGS = declare_settings(PLATFORM_SETTINGS, APP_SETTINGS, defaults=APP_DEFAULTS)
