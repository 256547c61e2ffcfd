"""Everything that happens once before the tasks: settings, Carol session, data source fingerprints, root task."""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from carolbatch.control.logging_setup import use_json_console
from carolbatch.control.run_locks import check_folders, check_writable
from carolbatch.control.runner import build_pipeline
from carolbatch.control.task_log import start_task_log
from carolbatch.definition import AppDefinition, Pipeline
from carolbatch.errors import BAD_INPUT, UNAVAILABLE, AppError
from carolbatch.identity import fingerprint_staging, fingerprint_with_cache
from carolbatch.registry import current_feature_columns
from carolbatch.settings.declaration import Settings, SettingsDeclaration, SettingsError
from carolbatch.storage.service_accounts import ServiceAccounts
from carolbatch.settings.kinds import DataFile, StagingTable
from carolbatch.tasks import AppTask, pipeline_params
from carolbatch.settings.layers import (
    ResolvedSettings,
    format_settings_sources,
    gather_layers,
    parse_assignments,
    read_settings_file,
    resolve_settings,
    settings_from_environment,
)
from carolbatch.records.sources import RecordsError
from carolbatch.records.staging_sql import build_staging_probe_query
from carolbatch.storage.carol_credentials import CarolCredentialsError, credentials_from_environment
from carolbatch.storage.carol_platform import (
    CarolUnavailableError,
    connect_carol,
    describe_carol_error,
    fetch_app_settings,
    open_bigquery,
)
from carolbatch.storage.run_context import RunContext
from carolbatch.storage.stores import ObjectStore, StorageError

logger = logging.getLogger(__name__)

SETTINGS_FILE = "settings.toml"
# Test hook, read only here: seconds to pause after the data is fingerprinted, so a test can rewrite the
# data file before it is ingested. Unset in real runs.
START_DELAY_VARIABLE = "PIPELINE_TEST_START_DELAY"
# Test hook, read only here and carried to the tasks in the run context: seconds to pause inside every target
# write (between its bytes and its checksum record), so a test can kill a run mid-write. Unset in real runs.
WRITE_DELAY_VARIABLE = "PIPELINE_TEST_WRITE_DELAY"
FINGERPRINT_CACHE = ".data-fingerprints.json"


@dataclass(frozen=True)
class RunPlan:
    settings: Settings
    carol_mode: bool
    root: AppTask
    pipeline: Pipeline
    registry_location: str
    registry: ObjectStore | None = None


def prepare_run(app: AppDefinition, project_dir: Path, environ: Mapping[str, str],
                assignments: Sequence[str], replace_champion: bool = False) -> RunPlan:
    """Validate the settings, open Carol when credentials are given, fingerprint the data, build the root
    (whose deploy step replaces the champion when `replace_champion`).

    Raises:
        AppError: with the exit code the run should end with.
    """
    carol, resolved = _open_session(app.settings, project_dir, environ, assignments)
    settings = resolved.settings
    _check_cloud_target(settings, carol)
    check_writable(settings, local_registry=carol is None)
    try:
        accounts = None if carol is None else ServiceAccounts()
        reader = None if carol is None else open_bigquery(carol, environ, accounts)
        fingerprints = _fingerprint_sources(settings, reader)
        time.sleep(float(environ.get(START_DELAY_VARIABLE) or 0))
        write_delay = float(environ.get(WRITE_DELAY_VARIABLE) or 0)
    except (SettingsError, RecordsError) as error:
        raise AppError(str(error), BAD_INPUT) from None
    except Exception as error:  # any failure of the staging probe in Carol
        if carol is None:
            raise
        message = f"staging table could not be probed in Carol: {_first_line(error)}"
        raise AppError(message, UNAVAILABLE) from None
    carol_mode = carol is not None
    cloud_targets = carol_mode if settings.cloud_target is None else settings.cloud_target
    context = RunContext(carol=carol, bigquery=reader, accounts=accounts, write_delay_seconds=write_delay)
    registry = _open_registry_store(context, carol_mode, settings)
    params = pipeline_params(settings, fingerprints, carol_mode, cloud_targets, _champion_columns(registry, settings),
                             replace_champion)
    root = build_pipeline(app.pipeline, params, context)
    logger.info("settings: %s", json.dumps(settings.as_dict()))
    return RunPlan(settings=settings, carol_mode=carol_mode, root=root, pipeline=app.pipeline,
                   registry_location=registry.describe(settings.deploy_app), registry=registry)


def _champion_columns(registry: ObjectStore, settings: Settings) -> tuple[str, ...]:
    """The deployed model's features this run does not use: read as well when the source has them, so the
    deployed model is scored on the same records."""
    used = {*settings.feature_columns, settings.target_column, settings.id_column}
    return tuple(name for name in current_feature_columns(registry, settings.deploy_app) if name not in used)


def _check_cloud_target(settings: Settings, carol) -> None:
    """Carol-stored targets need a Carol session: without credentials that is bad input, not a crash."""
    if settings.cloud_target and carol is None:
        raise AppError("setting cloud_target=true (CLOUD_TARGET) keeps the targets in the app's Carol storage, "
                       "which needs Carol credentials (CAROLTENANT, CAROLAPPNAME, CAROLAPPOAUTH); none are set",
                       BAD_INPUT)


@dataclass(frozen=True)
class RegistryAccess:
    settings: Settings
    store: ObjectStore
    carol: object = None  # the Carol session in Carol mode (the online app opens storages from it)


def open_registry(app: AppDefinition, project_dir: Path, environ: Mapping[str, str],
                  assignments: Sequence[str]) -> RegistryAccess:
    """Settings and the deploy app's model registry only, for commands that do not run the pipeline.

    Raises:
        AppError: with the exit code the command should end with.
    """
    carol, resolved = _open_session(app.settings, project_dir, environ, assignments)
    store = _open_registry_store(RunContext(carol=carol), carol is not None, resolved.settings)
    return RegistryAccess(settings=resolved.settings, store=store, carol=carol)


def _open_registry_store(context: RunContext, carol_mode: bool, settings: Settings) -> ObjectStore:
    """The deploy app's registry; in Carol mode a refused storage ends the run before any task."""
    try:
        return context.registry_store(carol_mode, settings.registry_dir, settings.deploy_app)
    except StorageError as error:
        raise AppError(f"deploy app {settings.deploy_app}: {error}", UNAVAILABLE) from None


def describe_settings(app: AppDefinition, project_dir: Path, environ: Mapping[str, str],
                      assignments: Sequence[str]) -> list[str]:
    """Every setting with its effective value and the layer it came from (`run.py --settings`).

    Raises:
        AppError: with the exit code the command should end with.
    """
    _, resolved = _open_session(app.settings, project_dir, environ, assignments)
    return format_settings_sources(resolved)


def _open_session(declaration: SettingsDeclaration, project_dir: Path, environ: Mapping[str, str],
                  assignments: Sequence[str]) -> tuple[object, ResolvedSettings]:
    """The Carol session (None without credentials) and the validated settings of every layer."""
    try:
        credentials = credentials_from_environment(environ)
    except CarolCredentialsError as error:
        raise AppError(str(error), UNAVAILABLE) from None
    carol, app_settings = (None, {}) if credentials is None else _connect(credentials, environ)
    try:
        layers, ignored = gather_layers(declaration, (SETTINGS_FILE, read_settings_file(project_dir / SETTINGS_FILE)),
                                        app_settings, settings_from_environment(environ), parse_assignments(assignments))
        if ignored:
            logger.warning("ignoring settings this app does not know: %s", ", ".join(ignored))
        resolved = resolve_settings(declaration, layers)
    except SettingsError as error:
        raise AppError(str(error), BAD_INPUT) from None
    _check_path_lengths(resolved.settings, local=carol is None)
    check_folders(resolved.settings, local_registry=carol is None)
    return carol, resolved


def _check_path_lengths(settings: Settings, local: bool) -> None:
    """A path setting the system cannot even look up (a name or path too long) is bad input, named."""
    files = [setting.name for setting in settings.declared if isinstance(setting.kind, DataFile)]
    for name in ("target_dir", *files, "registry_dir") if local else ("target_dir",):
        path = str(getattr(settings, name))
        try:
            os.stat(path)
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                raise AppError(f"setting {name}: a path of {len(path)} characters ({path[:40]!r}...) is too long "
                               "for this system", BAD_INPUT) from None


def _connect(credentials, environ: Mapping[str, str]) -> tuple[object, dict]:
    """The Carol session (task log and JSON console started) and the Carol app settings."""
    try:
        carol = connect_carol(credentials)
    except CarolUnavailableError as error:
        raise AppError(_first_line(error), UNAVAILABLE) from None
    use_json_console(environ.get("LONGTASKID"))
    if environ.get("LONGTASKID"):
        start_task_log(carol, environ["LONGTASKID"])
    try:
        return carol, fetch_app_settings(carol)
    except Exception as error:  # pycarol raises bare exceptions for a missing app or a refused call
        raise AppError(f"Carol app settings of {credentials.app_name} could not be read: "
                       f"{describe_carol_error(error)}", UNAVAILABLE) from None


def _fingerprint_sources(settings: Settings, reader) -> dict[str, str]:
    """The fingerprint of every data source setting this mode reads: in Carol mode (a BigQuery `reader`) each
    staging table's, probed; locally each data file's, hashed only when its stamp changed. Unset optional
    sources and those of the other mode are left out."""
    declared = {setting.name: setting.kind for setting in settings.declared}
    fingerprints = {}
    for name, kind in declared.items():
        value = getattr(settings, name)
        if value is not None and isinstance(kind, StagingTable) and reader is not None:
            connector, staging = kind.address(value, kind.connector_setting and getattr(settings, kind.connector_setting))
            fingerprints[name] = _probe_staging(reader, name, connector, staging)
    files = {name: Path(getattr(settings, name)) for name, kind in declared.items()
             if isinstance(kind, DataFile) and getattr(settings, name) is not None}
    if reader is None and files:
        fingerprints.update(_fingerprint_files(files, Path(settings.target_dir) / FINGERPRINT_CACHE))
    return fingerprints


def _probe_staging(reader, name: str, connector: str, staging: str) -> str:
    """A staging table's fingerprint; a table Carol does not have is bad input, named by its setting."""
    from google.api_core.exceptions import NotFound  # Carol mode only: local runs do not import it

    try:
        probe = reader.query_frame(build_staging_probe_query(connector, staging))
    except NotFound:
        raise RecordsError(f"setting {name}: staging table {connector}/{staging} not found in Carol") from None
    return fingerprint_staging(connector, staging, probe)


def _fingerprint_files(files: dict[str, Path], cache_path: Path) -> dict[str, str]:
    """Each file's fingerprint through the cache of file stamps at `cache_path` (rewritten when it changed)."""
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict) or not all(_cache_entry(entry) for entry in cache.values()):
        logger.warning("%s does not have the shape of a fingerprint cache; the data is hashed again", cache_path)
        cache = {}
    fingerprints, updated = {}, cache
    for name, path in files.items():
        try:
            fingerprints[name], updated = fingerprint_with_cache(path, updated)
        except RecordsError as error:
            raise RecordsError(f"setting {name}: {error}") from None
    if updated != cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        # One name per process: runs sharing a central scheduler start together and write this file at once.
        temporary = cache_path.with_name(f"{cache_path.stem}.{os.getpid()}.part")
        temporary.write_text(json.dumps(updated))
        temporary.replace(cache_path)
    return fingerprints


def _cache_entry(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("stamp"), dict) and isinstance(entry.get("sha256"), str)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
