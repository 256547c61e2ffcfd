"""carolbatch: the platform a Carol batch app is built on. An app hands it an `AppDefinition` (its pipeline and
settings declaration); carolbatch imports nothing from the app.

Public surface: `AppDefinition`, `Pipeline` here; `carolbatch.settings` (`Setting`, `declare_settings`,
`PLATFORM_SETTINGS`, kinds and the kind protocol); `carolbatch.tasks` (`AppTask`, `setting_parameter`);
`carolbatch.base_tasks` (the base task of each role: `RecordsTask`, `ModelTask`, `EvaluationTask`,
`DeploymentTask`); `carolbatch.training` (the model contract, `EpochModel`, `OneStepModel`, the preparation step);
the results the tasks hand on (`Records`, `TrainedModel`, `Evaluation`, `Deployment`); `carolbatch.cli.main` and
`carolbatch.online.server.main`, the entry points.
"""

from carolbatch.definition import AppDefinition, Pipeline

__all__ = ["AppDefinition", "Pipeline"]
