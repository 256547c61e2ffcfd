"""What this app's tasks share: the platform's base task of each role (AppTask for a task of the app's own) and the
parameters of this app's settings."""

import luigi

from app.functions.settings import SETTINGS
from carolbatch import tasks
from carolbatch.base_tasks import DeploymentTask, EvaluationTask, ModelTask, RecordsTask
from carolbatch.tasks import AppTask

__all__ = ["AppTask", "DeploymentTask", "EvaluationTask", "ModelTask", "RecordsTask", "setting_parameter"]


def setting_parameter(name: str) -> luigi.Parameter:
    """The Luigi parameter of this app's setting `name` (declared in app/functions/settings.py)."""
    return tasks.setting_parameter(SETTINGS, name)
