"""What this app's tasks share: the platform's base task and the parameters built from this app's settings."""

import luigi

from app.functions.settings import SETTINGS
from carolbatch import tasks
from carolbatch.tasks import LINEAGE_KEY, AppTask

__all__ = ["LINEAGE_KEY", "AppTask", "setting_parameter"]


def setting_parameter(name: str) -> luigi.Parameter:
    """The Luigi parameter of this app's setting `name` (declared in app/functions/settings.py)."""
    return tasks.setting_parameter(SETTINGS, name)
