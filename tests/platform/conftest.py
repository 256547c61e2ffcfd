"""What the platform's tests share: a toy app's settings declaration (tiny_frame's columns, one setting of its own)."""

from __future__ import annotations

from carolbatch.settings import PLATFORM_SETTINGS, Setting, declare_settings
from carolbatch.settings.kinds import Whole

TOY_DEFAULTS = {"input_connector": "toy_connector", "input_staging": "toy_staging", "data_path": "toy.csv",
                "feature_columns": ("a", "b", "c"), "target_column": "y", "id_column": "id", "deploy_app": "toyonline"}
TOY_SETTINGS = declare_settings(
    PLATFORM_SETTINGS, [Setting("model_epochs", Whole(1), 1000, "at most this many passes over the training rows")],
    defaults=TOY_DEFAULTS)
