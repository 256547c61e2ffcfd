"""Model versions of a deploy app: published once and never overwritten, listed, rolled back to, and loaded
(verified) as the current model."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import joblib

from carolbatch.registry.checksums import manifest_bytes, verified_bytes, verify_version
from carolbatch.registry.history import commit_current, current_chain, read_current_version, read_history
from carolbatch.registry.names import (HISTORY_FILE, MANIFEST_FILE, METADATA_FILE, MODEL_FILE, RegistryError,
                                       check_plain_name, current_pointer, registry_name, version_folder,
                                       write_registry_file)
from carolbatch.storage.stores import ObjectStore, read_bytes

logger = logging.getLogger(__name__)


def make_version_id(created_at: datetime, digest: str) -> str:
    """A version id that sorts by creation time and names the run that made it."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{digest[:8]}"


def publish_model(
    store: ObjectStore, deploy_app: str, version: str, model: Any, metadata: Mapping[str, Any],
    attachments: Mapping[str, bytes] | None = None, reason: str | None = None,
) -> None:
    """Store a new model version with its checksums, then commit it as current in the history.

    Args:
        store: where the registry lives.
        deploy_app: the app that serves the model.
        version: the new version id; an existing version is never overwritten.
        model: the fitted model.
        metadata: JSON-serialisable facts about the model.
        attachments: more files of the version (report, plots), by file name.
        reason: why it is deployed, kept in its history entry.

    Raises:
        RegistryError: a name is not plain, the version already exists, or the history cannot be written
            (then the current version is unchanged).
    """
    folder = version_folder(deploy_app, version)
    # Files of an incomplete version (a crash) are overwritten; a complete one never is.
    if store.exists(f"{folder}/{MANIFEST_FILE}"):
        raise RegistryError(f"model version {version} of {deploy_app} already exists")
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    files = {**(attachments or {}), MODEL_FILE: buffer.getvalue(),
             METADATA_FILE: json.dumps(metadata, indent=2, default=str).encode()}
    for file_name, data in files.items():
        write_registry_file(store, f"{folder}/{check_plain_name('file', file_name, reserved=())}", data)
    # The manifest last: it makes the version complete.
    write_registry_file(store, f"{folder}/{MANIFEST_FILE}", manifest_bytes(files))
    commit_current(store, deploy_app, "deploy", version, reason)
    logger.info("published model version %s to %s", version, store.describe(folder))


def read_current_marker(store: ObjectStore, deploy_app: str) -> str | None:
    """A cheap change marker of the current version (object metadata, no download): that of the history,
    which every deploy, rollback or removal rewrites, so a server polls this and reads the current version
    only when it moved. None before the first deployment."""
    return store.change_marker(registry_name(deploy_app, HISTORY_FILE)) or store.change_marker(
        current_pointer(deploy_app))


def read_version_metadata(store: ObjectStore, deploy_app: str, version: str) -> dict[str, Any]:
    """The metadata of one version, unverified (for listing).

    Raises:
        RegistryError: the version does not exist, or its metadata is not a JSON object (the message names it).
    """
    name = f"{version_folder(deploy_app, version)}/{METADATA_FILE}"
    data = read_bytes(store, name)
    if data is None:
        raise RegistryError(f"model version {version} of {deploy_app} not found in {store.describe(deploy_app)}")
    return _json_object(data, store.describe(name))


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RegistryError(f"{where} is not a JSON object")
    return value


def list_version_ids(store: ObjectStore, deploy_app: str) -> list[str]:
    """The complete versions of `deploy_app` (those with a checksum manifest), oldest first."""
    parts = (name.split("/") for name in store.list_names(registry_name(deploy_app) + "/"))
    return sorted(part[1] for part in parts if len(part) == 3 and part[2] == MANIFEST_FILE)


def has_version(store: ObjectStore, deploy_app: str, version: str) -> bool:
    """Whether `version` is a complete version of `deploy_app` (it has its checksum manifest)."""
    return store.exists(registry_name(deploy_app, version, MANIFEST_FILE))


def list_versions(store: ObjectStore, deploy_app: str) -> list[dict[str, Any]]:
    """The metadata of every complete version of `deploy_app`, oldest first, each with its `version` id."""
    ids = list_version_ids(store, deploy_app)
    return [{**read_version_metadata(store, deploy_app, version), "version": version} for version in ids]


def rollback_model(store: ObjectStore, deploy_app: str, version: str | None = None) -> str:
    """Make `version` current, or else the version that was current before the present one.

    Without a version, the history decides: a version that was rolled back from is never returned to.

    Returns:
        The version now current.

    Raises:
        RegistryError: the version is not a plain name, does not exist or does not verify, or the
            history holds no earlier current version.
    """
    current = read_current_version(store, deploy_app)
    if version is None:
        chain = current_chain(read_history(store, deploy_app))
        if len(chain) < 2:
            raise RegistryError(f"no model version of {deploy_app} was current before the current one ({current})")
        version = chain[-2]
    verify_version(store, deploy_app, version)
    commit_current(store, deploy_app, "rollback", version)
    logger.info("current model of %s moved from %s to %s", deploy_app, current, version)
    return version


@dataclass(frozen=True)
class CurrentModel:
    """The deployed model with its version id, metadata and the feature columns it predicts from, in order."""

    version: str
    model: Any
    feature_columns: tuple[str, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)


def load_current(store: ObjectStore, deploy_app: str) -> CurrentModel | None:
    """The current version of `deploy_app`, verified, or None before the first deployment.

    Raises:
        RegistryError: the current version's files are missing or do not match their checksums, or its model
            cannot be loaded or has no `predict`.
    """
    version = read_current_version(store, deploy_app)
    if version is None:
        return None
    where = store.describe(registry_name(deploy_app, version, METADATA_FILE))
    metadata = _json_object(verified_bytes(store, deploy_app, version, METADATA_FILE), where)
    model = _load_model(verified_bytes(store, deploy_app, version, MODEL_FILE),
                        store.describe(registry_name(deploy_app, version, MODEL_FILE)))
    if not isinstance(metadata.get("settings") or {}, dict):
        raise RegistryError(f"{where} holds settings that are not a JSON object")
    columns = metadata.get("feature_columns") or (metadata.get("settings") or {}).get("feature_columns")
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise RegistryError(f"{where} names no feature_columns")
    return CurrentModel(version=version, model=model, feature_columns=tuple(columns), metadata=metadata)


def _load_model(data: bytes, where: str) -> Any:
    """The model a version's verified bytes hold; one that cannot be unpickled or cannot predict is an error."""
    try:
        model = joblib.load(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 (unpickling runs arbitrary constructors: any error means unusable)
        first_line = (str(error).splitlines() or [""])[0]
        raise RegistryError(f"{where} cannot be loaded ({type(error).__name__}: {first_line})") from None
    if not callable(getattr(model, "predict", None)):
        raise RegistryError(f"{where} holds a {type(model).__name__}, not a model with predict")
    return model


def current_feature_columns(store: ObjectStore, deploy_app: str) -> tuple[str, ...]:
    """The feature columns of the current version as its metadata states them; () when there is none or
    it cannot be read (the deploy step then reports the problem)."""
    try:
        version = read_current_version(store, deploy_app)
        metadata = read_version_metadata(store, deploy_app, version) if version else {}
    except RegistryError:
        return ()
    settings = metadata.get("settings")
    columns = metadata.get("feature_columns") or (settings if isinstance(settings, dict) else {}).get(
        "feature_columns") or []
    return tuple(name for name in columns if isinstance(name, str)) if isinstance(columns, list) else ()


def load_current_model(store: ObjectStore, deploy_app: str) -> Any | None:
    """Load the model an online app should serve: the current version of `deploy_app`, from a local
    registry folder (`LocalStore`) or the deploy app's Carol storage (`CarolStore`); README.md shows both.

    Returns:
        The fitted scikit-learn pipeline, or None when nothing has been deployed yet.

    Raises:
        RegistryError: the current version's files are missing or do not match their checksums.
    """
    current = load_current(store, deploy_app)
    return None if current is None else current.model
