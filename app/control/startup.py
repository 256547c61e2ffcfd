"""Everything that happens once before the tasks: settings, Carol session, data fingerprint, root task."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from app.control.logging_setup import use_json_console
from app.control.runner import build_pipeline
from app.control.task_log import start_task_log
from app.flow.commons import pipeline_params, registry_store, use_bigquery, use_carol
from app.flow.deploy_model import DeployModel
from app.functions.registry import current_feature_columns
from app.functions.settings import (
    Settings,
    SettingsError,
    build_settings,
    parse_assignments,
    read_settings_file,
    settings_from_environment,
)
from app.functions.sources import (
    RecordsError,
    build_staging_probe_query,
    fingerprint_staging,
    fingerprint_with_cache,
)
from app.functions.storage.carol_platform import (
    CarolCredentialsError,
    CarolUnavailableError,
    connect_carol,
    credentials_from_environment,
    describe_carol_error,
    fetch_app_settings,
    open_bigquery,
)
from app.functions.storage.locks import LOCK_FILE, carol_lock, local_locks
from app.functions.storage.stores import LocalStore, ObjectStore, StorageError

logger = logging.getLogger(__name__)

SETTINGS_FILE = "settings.toml"
# Test hook, read only here: seconds to pause after the data is fingerprinted, so a test can rewrite the
# data file before it is ingested. Unset in real runs.
START_DELAY_VARIABLE = "PIPELINE_TEST_START_DELAY"
FINGERPRINT_CACHE = ".data-fingerprints.json"


class StartupError(Exception):
    """The run cannot start; `exit_code` is 2 for bad input, 1 for an unavailable platform."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunPlan:
    settings: Settings
    carol_mode: bool
    root: DeployModel
    registry_location: str
    registry: ObjectStore | None = None


def prepare_run(project_dir: Path, environ: Mapping[str, str], assignments: Sequence[str]) -> RunPlan:
    """Validate the settings, open Carol when credentials are given, fingerprint the data, build the root.

    Raises:
        StartupError: with the exit code the run should end with.
    """
    carol, settings = _open_session(project_dir, environ, assignments)
    try:
        fingerprint = _fingerprint_data(settings, carol, environ)
        time.sleep(float(environ.get(START_DELAY_VARIABLE) or 0))
    except (SettingsError, RecordsError) as error:
        raise StartupError(str(error), 2) from None
    except Exception as error:  # any failure of the staging probe in Carol
        if carol is None:
            raise
        raise StartupError(f"staging table could not be probed in Carol: {_first_line(error)}", 1) from None
    carol_mode = carol is not None
    cloud_targets = environ.get("CLOUD_TARGET", str(carol_mode)).strip().lower() == "true"
    registry = _open_registry_store(carol_mode, settings)
    used = {*settings.feature_columns, settings.target_column, settings.id_column}
    # The staging query names its columns; one the table lacks would fail it, so Carol mode reads none extra.
    extra = () if carol_mode else tuple(name for name in current_feature_columns(registry, settings.deploy_app)
                                        if name not in used)
    root = build_pipeline(pipeline_params(settings, fingerprint, carol_mode, cloud_targets, extra))
    location = registry.describe(settings.deploy_app)
    logger.info("settings: %s", json.dumps(settings.as_dict()))
    return RunPlan(settings=settings, carol_mode=carol_mode, root=root, registry_location=location, registry=registry)


@dataclass(frozen=True)
class RegistryAccess:
    settings: Settings
    store: ObjectStore
    carol: object = None  # the Carol session in Carol mode (the online app opens storages from it)


def open_registry(project_dir: Path, environ: Mapping[str, str], assignments: Sequence[str]) -> RegistryAccess:
    """Settings and the deploy app's model registry only, for commands that do not run the pipeline.

    Raises:
        StartupError: with the exit code the command should end with.
    """
    carol, settings = _open_session(project_dir, environ, assignments)
    store = _open_registry_store(carol is not None, settings)
    return RegistryAccess(settings=settings, store=store, carol=carol)


def _open_registry_store(carol_mode: bool, settings: Settings) -> ObjectStore:
    """The deploy app's registry; in Carol mode a refused storage ends the run before any task."""
    try:
        return registry_store(carol_mode, settings.registry_dir, settings.deploy_app)
    except StorageError as error:
        raise StartupError(f"deploy app {settings.deploy_app}: {error}", 1) from None


def lock_run(plan: RunPlan, purpose: str, wait: bool, shared: bool = False) -> AbstractContextManager:
    """The locks of the run's target folder and model registry (none when `shared` by a central scheduler).

    Raises:
        LockBusyError: on entering, when another process holds one and `wait` is false.
    """
    if shared:
        return nullcontext()
    return _locks([(plan.root.target_store(), plan.root.target_prefix()), (plan.registry, f"{plan.settings.deploy_app}/")],
                  purpose, wait)


def lock_registry(access: RegistryAccess, purpose: str, wait: bool) -> AbstractContextManager:
    """The lock of the model registry, for a rollback or a clean-up of versions."""
    return _locks([(access.store, f"{access.settings.deploy_app}/")], purpose, wait)


@contextmanager
def _locks(places: list[tuple[ObjectStore, str]], purpose: str, wait: bool):
    """Take the lock of each (store, folder) in the order given: targets before the registry, in every process."""
    with ExitStack() as stack:
        for store, folder in places:
            if isinstance(store, LocalStore):
                stack.enter_context(local_locks([store.root / folder], purpose, wait))
            else:
                stack.enter_context(carol_lock(store, f"{folder}{LOCK_FILE}", purpose, wait))
        yield


def _open_session(project_dir: Path, environ: Mapping[str, str], assignments: Sequence[str]) -> tuple[object, Settings]:
    """The Carol session (None without credentials) and the validated settings of every layer."""
    try:
        credentials = credentials_from_environment(environ)
    except CarolCredentialsError as error:
        raise StartupError(str(error), 1) from None
    carol = None
    app_settings: dict[str, str] = {}
    if credentials is not None:
        try:
            carol = connect_carol(credentials)
        except CarolUnavailableError as error:
            raise StartupError(_first_line(error), 1) from None
        use_carol(carol)
        use_json_console(environ.get("LONGTASKID"))
        if environ.get("LONGTASKID"):
            start_task_log(carol, environ["LONGTASKID"])
        try:
            app_settings = fetch_app_settings(carol)
        except Exception as error:  # pycarol raises bare exceptions for a missing app or a refused call
            raise StartupError(f"Carol app settings of {credentials.app_name} could not be read: "
                               f"{describe_carol_error(error)}", 1) from None
    try:
        settings = build_settings([
            (SETTINGS_FILE, read_settings_file(project_dir / SETTINGS_FILE)),
            ("Carol app settings", app_settings),
            ("environment", settings_from_environment(environ)),
            ("--set", parse_assignments(assignments)),
        ])
    except SettingsError as error:
        raise StartupError(str(error), 2) from None
    _check_folders(settings)
    return carol, settings


def _check_folders(settings: Settings) -> None:
    """A target or registry folder that exists as a file is bad input, named before anything is written."""
    for name in ("target_dir", "registry_dir"):
        path = Path(getattr(settings, name))
        if path.exists() and not path.is_dir():
            raise StartupError(f"setting {name}={str(path)!r} is a file, not a folder", 2)


def _fingerprint_data(settings: Settings, carol, environ: Mapping[str, str]) -> str:
    if carol is not None:
        probe_sql = build_staging_probe_query(settings.input_connector, settings.input_staging)
        reader = open_bigquery(carol, environ)
        use_bigquery(reader)
        probe = reader.query_frame(probe_sql)
        return fingerprint_staging(settings.input_connector, settings.input_staging, probe)
    cache_path = Path(settings.target_dir) / FINGERPRINT_CACHE
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict) or not all(_cache_entry(entry) for entry in cache.values()):
        logger.warning("%s does not have the shape of a fingerprint cache; the data is hashed again", cache_path)
        cache = {}
    fingerprint, updated = fingerprint_with_cache(Path(settings.data_path), cache)
    if updated != cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_path.with_suffix(".part")
        temporary.write_text(json.dumps(updated))
        temporary.replace(cache_path)
    return fingerprint


def _cache_entry(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("stamp"), dict) and isinstance(entry.get("sha256"), str)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
