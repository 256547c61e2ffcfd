"""What this app's tasks share: the platform's base task and the parameters built from this app's settings."""

from carolbatch.tasks import LINEAGE_KEY, AppTask, setting_parameter

__all__ = ["LINEAGE_KEY", "AppTask", "setting_parameter"]
