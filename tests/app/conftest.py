"""What the app's tests share besides tests/conftest.py: this app's pipeline and settings, as app/pipeline.py
declares them. Tests of run.py count tasks from here, so a task added to the pipeline changes no count."""

from __future__ import annotations

from app.pipeline import APP
from carolbatch.settings.layers import build_settings, read_settings_file
from tests.conftest import PROJECT_DIR

# A run does every task once, a rerun reuses every one.
TASKS = APP.pipeline.families
TASK_COUNT = len(TASKS)
ALL_TASKS = str(TASK_COUNT)  # as the summary line writes it


def default_settings(**overrides):
    """This app's declared defaults and settings.toml, with some values replaced."""
    return build_settings(APP.settings, [("default", APP.settings.defaults()),
                           ("settings.toml", read_settings_file(PROJECT_DIR / "settings.toml")), ("test", overrides)])


# Where this app deploys and the columns it reads, as its settings name them.
SETTINGS = default_settings()
DEPLOY_APP = SETTINGS.deploy_app
