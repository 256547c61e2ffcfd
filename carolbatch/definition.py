"""What an app hands the platform: its pipeline (the tasks, their order and roles) and its settings declaration.

The platform names no task of an app: run control, `--plan`, `--force`, `--gc` and the run record read the
roles declared here. An app declares both once (app/pipeline.py) and hands them to `carolbatch.cli.main`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carolbatch.settings.declaration import SettingsDeclaration


ROLES = ("records", "model", "evaluation", "deployment")


@dataclass(frozen=True)
class Pipeline:
    """The app's tasks, upstream first, and the role each platform step relies on.

    Attributes:
        tasks: every task class of the pipeline, each after the tasks it requires.
        records: the task whose output is the validated records.
        model: the task whose output is the trained model.
        evaluation: the task whose output is the evaluation (metrics, gate, report).
        deployment: the task whose output is the deployment decision: the root, which requires the others.
    """

    tasks: tuple[type, ...]
    records: type
    model: type
    evaluation: type
    deployment: type

    def __post_init__(self) -> None:
        undeclared = [role for role in ROLES if getattr(self, role) not in self.tasks]
        if undeclared:
            raise ValueError(f"the task of each role must be one of the pipeline's tasks: {', '.join(undeclared)}")
        if self.tasks[-1] is not self.deployment:
            raise ValueError("the deployment task is the root: it comes last")

    @property
    def families(self) -> tuple[str, ...]:
        """The task families (Luigi's names of the tasks), in order."""
        return tuple(family_of(task) for task in self.tasks)

    @property
    def roles(self) -> dict[str, str]:
        """The family of the task in each role, as the run record keeps it."""
        return {role: self.family(role) for role in ROLES}

    def family(self, role: str) -> str:
        """The family of the task in `role` (`records`, `model`, `evaluation` or `deployment`)."""
        return family_of(getattr(self, role))


def family_of(task: Any) -> str:
    """Luigi's name of a task class (its `task_family`)."""
    return task.get_task_family()


@dataclass(frozen=True)
class AppDefinition:
    """An app as the platform sees it: its pipeline and its settings (the platform's and its own).

    Attributes:
        pipeline: the tasks and their roles.
        settings: the declaration of every setting (`carolbatch.settings.declare_settings`).
    """

    pipeline: Pipeline
    settings: SettingsDeclaration
