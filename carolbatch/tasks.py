"""What every task shares: the base task class, its verified target, the stores, and the parameters built from
the settings."""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Mapping
from functools import cache
from types import FunctionType, ModuleType

import luigi
from pycarol.pipeline import PickleTarget, Task

from carolbatch.errors import is_one_line_error
from carolbatch.identity import fingerprint_code, fingerprint_task
from carolbatch.planning import fingerprint_parameter, format_target_name
from carolbatch.settings.declaration import Settings, SettingsDeclaration, declare_settings
from carolbatch.settings.kinds import DataFile, StagingTable
from carolbatch.settings.platform import PLATFORM_SETTINGS
from carolbatch.storage.artifacts import (
    artifact_is_present,
    artifact_is_valid,
    artifact_looks_damaged,
    artifact_size,
    delete_artifact,
    inspect_artifact,
    load_artifact,
    save_artifact,
)
from carolbatch.storage.checksums import read_summary
from carolbatch.storage.run_context import RunContext
from carolbatch.storage.stores import ObjectStore
from carolbatch.training.checkpoints import Checkpoints, checkpoint_name

CLOUD_TARGET_PREFIX = "pipeline/"
_PLATFORM = declare_settings(PLATFORM_SETTINGS)
# Key of the deployed model's target lineage inside its registry metadata `settings`.
LINEAGE_KEY = "target_lineage"

# A setting's Luigi parameter class, by the Python type of its kind's values (the kind protocol's `python_type`).
_PARAMETER_CLASSES = {str: luigi.Parameter, tuple: luigi.ListParameter, int: luigi.IntParameter,
                      float: luigi.FloatParameter, bool: luigi.BoolParameter}
_OPTIONAL_PARAMETER_CLASSES = {str: luigi.OptionalParameter, tuple: luigi.OptionalListParameter,
                               int: luigi.OptionalIntParameter, float: luigi.OptionalFloatParameter,
                               bool: luigi.OptionalBoolParameter}
SOURCE_KINDS = (DataFile, StagingTable)


def setting_parameter(declaration: SettingsDeclaration, name: str) -> luigi.Parameter:
    """The Luigi parameter of a declared setting: its class from the setting's kind, its significance and
    description from the declaration. Optional settings default to None. An app binds its declaration once
    (app/flow/commons.py).

    A data source (kind `DataFile` or `StagingTable`) counts by its content, not its name: the task gets the
    parameter `<name>_fingerprint` as well, the source's fingerprint taken at start-up, in its identity."""
    setting = declaration[name]
    source = isinstance(setting.kind, SOURCE_KINDS)
    significant = setting.significant and not source
    classes = _OPTIONAL_PARAMETER_CLASSES if setting.optional else _PARAMETER_CLASSES
    parameter_class = classes.get(getattr(setting.kind, "python_type", None), classes[str])
    if setting.optional:
        parameter = parameter_class(default=None, significant=significant, description=setting.meaning)
    else:
        parameter = parameter_class(significant=significant, description=setting.meaning)
    parameter.data_source = setting.kind if source else None  # read by `carolbatch.records.reader`
    return parameter


def source_settings(settings: Settings) -> tuple[str, ...]:
    """The names of the data source settings (kinds `DataFile`, `StagingTable`) of `settings`' declaration."""
    return tuple(setting.name for setting in settings.declared if isinstance(setting.kind, SOURCE_KINDS))


def pipeline_params(settings: Settings, fingerprints: Mapping[str, str], carol_mode: bool, cloud_targets: bool,
                    champion_columns: tuple[str, ...] = (), replace_champion: bool = False) -> dict:
    """The one parameter dict given to the root task; pycarol passes each task the names it declares.

    Args:
        fingerprints: by data source setting, the fingerprint of what it names; a source this mode does not
            read (or an unset one) is left out and gets "".
    """
    sources = {fingerprint_parameter(name): fingerprints.get(name, "") for name in source_settings(settings)}
    return {**settings.as_dict(), **sources, "data_fingerprint": combined_fingerprint(fingerprints),
            "carol_mode": carol_mode, "cloud_targets": cloud_targets, "champion_columns": list(champion_columns),
            "replace_champion": replace_champion}


def combined_fingerprint(fingerprints: Mapping[str, str]) -> str:
    """One fingerprint of all the run's data (kept with a deployed model): a lone source's own, else a hash."""
    read = {name: value for name, value in sorted(fingerprints.items()) if value}
    if len(read) == 1:
        return next(iter(read.values()))
    return "sources:" + hashlib.sha256(json.dumps(read).encode()).hexdigest()


@cache
def _code_fingerprint(task_class: type) -> str:
    own = sys.modules[task_class.__module__]
    modules = [own, *task_class.code_modules]
    modules += [module for module in app_modules_used(own) if module not in modules]
    return fingerprint_code(inspect.getsource(module) for module in modules)


def app_modules_used(module: ModuleType) -> list[ModuleType]:
    """The modules of the task's own package (`app.functions...`) that `module` uses, directly or not, in name
    order: a change in them changes the task's code. Modules holding a task are left out: an upstream task's
    code reaches this one through its identity."""
    package = module.__name__.split(".")[0]
    found: dict[str, ModuleType] = {}
    waiting = [module]
    while waiting:
        for used in map(_module_of, vars(waiting.pop()).values()):
            if (used is not None and used.__name__.split(".")[0] == package and used.__name__ not in found
                    and used is not module and not _holds_a_task(used)):
                found[used.__name__] = used
                waiting.append(used)
    return [found[name] for name in sorted(found)]


def _module_of(value) -> ModuleType | None:
    """The module `value` is, or the one that defined it (a function, a class) or its class."""
    if isinstance(value, ModuleType):
        return value
    name = getattr(value if isinstance(value, (type, FunctionType)) else type(value), "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _holds_a_task(module: ModuleType) -> bool:
    return any(isinstance(value, type) and issubclass(value, AppTask) and value.__module__ == module.__name__
               for value in vars(module).values())


class VerifiedPickleTarget(PickleTarget):
    """One task output in the task's store: local `target_dir` or the app's Carol storage.

    pycarol's own `PickleTarget` writes in place and logs in to Carol when it is created; this one
    takes its store from the task and is complete only when its bytes match their checksum record (in
    Carol storage: when record and object are there; the bytes are checked when loaded).
    """

    def __init__(self, task) -> None:
        self.task = task
        self.store = task.target_store()
        self.checks = task.run_context().artifact_checks
        self.name = format_target_name(task.target_prefix(), task.get_task_family(), task.identity())
        luigi.LocalTarget.__init__(self, path=self.store.describe(self.name))

    def exists(self) -> bool:
        if self.store.local_path(self.name) is not None:  # a local file: checking its bytes is cheap
            return artifact_is_valid(self.store, self.name, self.checks)
        # Carol storage: a reuse downloads no output; its bytes are checked when a task loads it.
        return artifact_is_present(self.store, self.name)

    def state(self) -> str:
        """`valid`, `missing` or `corrupt` (see `inspect_artifact`)."""
        return inspect_artifact(self.store, self.name, self.checks)

    def looks_damaged(self) -> bool:
        """A cheap check that reads no artifact bytes (see `artifact_looks_damaged`)."""
        return artifact_looks_damaged(self.store, self.name, self.checks)

    def size(self) -> int | None:
        return artifact_size(self.store, self.name)

    def load(self):
        return load_artifact(self.store, self.name, self.checks)

    def dump(self, value) -> None:
        save_artifact(self.store, self.name, value, self.task.run_context().write_delay_seconds,
                      self.task.output_summary(value), self.checks)

    def summary(self) -> dict | None:
        """What the task put in the output's checksum record (`AppTask.output_summary`), read without the output."""
        return read_summary(self.store, self.name)

    def remove(self) -> None:
        delete_artifact(self.store, self.name)

    def dump_metadata(self, metadata: dict) -> None:
        """Task metadata is part of the run record, not a file beside each target."""

    def remove_metadata(self) -> None:
        """Nothing to remove: see `dump_metadata`."""



class AppTask(Task):
    """A pipeline task whose output identity covers its parameters, its code and its upstream outputs."""

    target_type = VerifiedPickleTarget
    code_modules: tuple = ()
    # The run's connections, given by run control through `attach_context`; a task without one runs locally.
    context: RunContext | None = None

    target_dir = setting_parameter(_PLATFORM, "target_dir")
    cloud_targets = luigi.BoolParameter(significant=False)
    carol_mode = luigi.BoolParameter(significant=False)
    # All the run's data in one fingerprint (see `combined_fingerprint`); each task's identity holds only the
    # fingerprints of the sources it declares.
    data_fingerprint = luigi.Parameter(default="", significant=False)

    def __init_subclass__(cls, **kwargs) -> None:
        """Each data source setting the task declares brings its fingerprint parameter (see `setting_parameter`)."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if getattr(value, "data_source", False):
                parameter = luigi.Parameter(description=f"fingerprint of the data setting {name} names")
                parameter.__set_name__(cls, fingerprint_parameter(name))  # set after the class is made
                setattr(cls, fingerprint_parameter(name), parameter)

    @property
    def TARGET_DIR(self) -> str:  # noqa: N802 (pycarol's name)
        return self.target_dir

    def code_fingerprint(self) -> str:
        return _code_fingerprint(type(self))

    def identity(self) -> str:
        if not hasattr(self, "_identity"):
            upstream = [task.identity() for task in luigi.task.flatten(self.requires())]
            self._identity = fingerprint_task(
                self.get_task_family(), self.to_str_params(only_significant=True), self.code_fingerprint(), upstream
            )
        return self._identity

    def upstream_tasks(self) -> list[AppTask]:
        """Every task this one depends on, directly or not, each once."""
        found: list[AppTask] = []
        for task in luigi.task.flatten(self.requires()):
            found.extend(t for t in [task, *task.upstream_tasks()] if t not in found)
        return found

    def lineage(self) -> dict[str, str]:
        """The identity of this task's output and of every output it was computed from, by task family."""
        return {task.get_task_family(): task.identity() for task in [*self.upstream_tasks(), self]}

    def complete(self) -> bool:
        """Own output verified, and no upstream output visibly damaged: a broken input reruns its consumers.

        Upstream outputs get only the cheap look of `looks_damaged`, so a no-op run reads no big target.
        """
        return self.output().exists() and not any(task.output().looks_damaged() for task in self.upstream_tasks())

    def output_summary(self, value) -> dict | None:
        """A few JSON facts about an output, kept in its checksum record so they can be read without it."""
        return None

    def target_prefix(self) -> str:
        return CLOUD_TARGET_PREFIX if self.cloud_targets else ""

    def run_context(self) -> RunContext:
        return self.context if self.context is not None else RunContext()

    def target_store(self) -> ObjectStore:
        return self.run_context().target_store(self.cloud_targets, self.target_dir)

    def checkpoints(self, every_epochs: int = 1, min_seconds: float = 0.0) -> Checkpoints:
        """Where this task keeps its training checkpoint: its own store, named by its identity."""
        name = checkpoint_name(self.target_prefix(), self.get_task_family(), self.identity())
        return Checkpoints(self.target_store(), name, self.get_task_family(), every_epochs, min_seconds,
                           self.run_context().artifact_checks)

    def training_checkpoints(self, every_epochs: int, min_seconds: float) -> Checkpoints:
        """The checkpoints a task trains with (see `checkpoints`): deleted once its output is written."""
        self._checkpoints = self.checkpoints(every_epochs, min_seconds)
        return self._checkpoints

    def save(self) -> None:
        """Only the output (pycarol's metadata file would warn and duplicate the run record), then the end of the
        task's checkpoint, if it asked for one."""
        self.output().dump(self.output_object)
        if getattr(self, "_checkpoints", None) is not None:
            self._checkpoints.delete()

    def on_failure(self, exception: BaseException) -> str:
        """Report the error in one line; a traceback only for what is not an input problem."""
        if is_one_line_error(exception):
            return f"{type(exception).__name__}: {exception}"
        return super().on_failure(exception)


def attach_context(root: AppTask, context: RunContext) -> AppTask:
    """Give the root and every task upstream of it the run's context (Luigi runs these same instances)."""
    for task in [root, *root.upstream_tasks()]:
        task.context = context
    return root
