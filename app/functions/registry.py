"""The model registry: immutable model versions of a deploy app and a pointer to the current one.

Layout inside a store (a local folder or the deploy app's Carol storage): README.md, "Where outputs go".
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from app.functions.errors import BAD_INPUT, AppError
from app.functions.storage.stores import ObjectStore, read_bytes, write_bytes

logger = logging.getLogger(__name__)

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
HISTORY_FILE = "history.jsonl"


class RegistryError(AppError):
    """The registry does not hold what was asked for, or refuses a change."""

    default_exit_code = BAD_INPUT


def current_pointer(deploy_app: str) -> str:
    return f"{deploy_app}/current"


def stable_model_name(deploy_app: str) -> str:
    """Where an online app finds the current model, whatever its version."""
    return f"{deploy_app}/{MODEL_FILE}"


def make_version_id(created_at: datetime, digest: str) -> str:
    """A version id that sorts by creation time and names the run that made it."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{digest[:8]}"


def publish_model(
    store: ObjectStore, deploy_app: str, version: str, model: Any, metadata: Mapping[str, Any],
    attachments: Mapping[str, bytes] | None = None,
) -> None:
    """Store a new model version and make it current; `current` moves last, so a failure leaves it as it was.

    Args:
        store: where the registry lives.
        deploy_app: the app that serves the model.
        version: the new version id; an existing version is never overwritten.
        model: the fitted model.
        metadata: JSON-serialisable facts about the model.
        attachments: more files of the version (report, plots), by file name.

    Raises:
        RegistryError: the version already exists.
    """
    version_metadata = f"{deploy_app}/{version}/{METADATA_FILE}"
    if store.exists(version_metadata):
        raise RegistryError(f"model version {version} of {deploy_app} already exists")
    for file_name, data in (attachments or {}).items():
        write_bytes(store, f"{deploy_app}/{version}/{file_name}", data)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    write_bytes(store, f"{deploy_app}/{version}/{MODEL_FILE}", buffer.getvalue())
    # The metadata file is what makes a version exist, so it comes after everything it describes.
    write_bytes(store, version_metadata, json.dumps(metadata, indent=2, default=str).encode())
    _point_current(store, deploy_app, version, "deploy")
    logger.info("published model version %s to %s", version, store.describe(f"{deploy_app}/{version}"))


def _point_current(store: ObjectStore, deploy_app: str, version: str, action: str) -> None:
    model_path = store.local_copy(f"{deploy_app}/{version}/{MODEL_FILE}")
    if model_path is None:
        raise RegistryError(f"model version {version} of {deploy_app} has no {MODEL_FILE}")
    previous = read_current_version(store, deploy_app)
    store.write_file(stable_model_name(deploy_app), Path(model_path))
    write_bytes(store, current_pointer(deploy_app), version.encode())
    entry = {"at": datetime.now(timezone.utc).isoformat(), "action": action, "version": version, "previous": previous}
    history = read_bytes(store, f"{deploy_app}/{HISTORY_FILE}") or b""
    write_bytes(store, f"{deploy_app}/{HISTORY_FILE}", history + json.dumps(entry).encode() + b"\n")


def read_current_version(store: ObjectStore, deploy_app: str) -> str | None:
    """The current version id of `deploy_app`, or None before the first deployment."""
    data = read_bytes(store, current_pointer(deploy_app))
    return None if data is None else data.decode().strip()


def read_current_marker(store: ObjectStore, deploy_app: str) -> str | None:
    """A cheap change marker of the current version (object metadata, no download): it changes with every
    deploy or rollback, so a server polls this and reads the current version only when it moved.

    It covers both `current` and the history, each rewritten whole by every change of the current version.
    None before the first deployment.
    """
    markers = [store.change_marker(name) for name in (current_pointer(deploy_app), f"{deploy_app}/{HISTORY_FILE}")]
    return None if markers == [None, None] else "|".join(str(marker) for marker in markers)


def read_version_metadata(store: ObjectStore, deploy_app: str, version: str) -> dict[str, Any]:
    """The metadata of one version.

    Raises:
        RegistryError: the version does not exist.
    """
    data = read_bytes(store, f"{deploy_app}/{version}/{METADATA_FILE}")
    if data is None:
        raise RegistryError(f"model version {version} of {deploy_app} not found in {store.describe(deploy_app)}")
    return json.loads(data)


def list_version_ids(store: ObjectStore, deploy_app: str) -> list[str]:
    """The versions of `deploy_app`, oldest first (a version exists once its metadata does)."""
    parts = (name.split("/") for name in store.list_names(f"{deploy_app}/"))
    return sorted(part[1] for part in parts if len(part) == 3 and part[2] == METADATA_FILE)


def list_versions(store: ObjectStore, deploy_app: str) -> list[dict[str, Any]]:
    """The metadata of every version of `deploy_app`, oldest first, each with its `version` id."""
    ids = list_version_ids(store, deploy_app)
    return [{**read_version_metadata(store, deploy_app, version), "version": version} for version in ids]


def rollback_model(store: ObjectStore, deploy_app: str, version: str | None = None) -> str:
    """Make `version`, or else the version before the current one, current again.

    Returns:
        The version now current.

    Raises:
        RegistryError: the version does not exist, or there is no earlier version to go back to.
    """
    current = read_current_version(store, deploy_app)
    if version is None:
        earlier = [known for known in list_version_ids(store, deploy_app) if current is None or known < current]
        if not earlier:
            raise RegistryError(f"no model version of {deploy_app} older than the current one ({current})")
        version = earlier[-1]
    read_version_metadata(store, deploy_app, version)
    _point_current(store, deploy_app, version, "rollback")
    logger.info("current model of %s moved from %s to %s", deploy_app, current, version)
    return version


@dataclass(frozen=True)
class CurrentModel:
    """The deployed model with its version id, the feature columns it predicts from (in order) and the
    version's metadata."""

    version: str
    model: Any
    feature_columns: tuple[str, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)


def load_current(store: ObjectStore, deploy_app: str) -> CurrentModel | None:
    """The current version of `deploy_app` with its model and metadata, or None before the first deployment.

    Raises:
        RegistryError: `current` names a version whose model file or metadata is missing.
    """
    version = read_current_version(store, deploy_app)
    if version is None:
        return None
    metadata = read_version_metadata(store, deploy_app, version)
    path = store.local_copy(f"{deploy_app}/{version}/{MODEL_FILE}")
    if path is None:
        raise RegistryError(f"current model version {version} of {deploy_app} has no {MODEL_FILE}")
    columns = metadata.get("feature_columns") or metadata["settings"]["feature_columns"]
    return CurrentModel(version=version, model=joblib.load(path), feature_columns=tuple(columns), metadata=metadata)


def load_current_model(store: ObjectStore, deploy_app: str) -> Any | None:
    """Load the model an online app should serve: the current version of `deploy_app`, from a local
    registry folder (`LocalStore`) or the deploy app's Carol storage (`CarolStore`); README.md shows both.

    Returns:
        The fitted scikit-learn pipeline, or None when nothing has been deployed yet.

    Raises:
        RegistryError: `current` names a version whose model file or metadata is missing.
    """
    current = load_current(store, deploy_app)
    return None if current is None else current.model


@dataclass(frozen=True)
class Deployment:
    """What a deploy step did: the version it published (None when it published nothing), why, and
    the champion version it was compared with (None when there was none)."""

    version: str | None
    reason: str
    champion: str | None = None


def deployment_is_current(store: ObjectStore, deploy_app: str, deployment: Deployment) -> bool:
    """Whether a past deploy decision still holds: its version is still in the registry, or, for a
    refusal, the champion it lost to is still the current model."""
    if deployment.version is not None:
        return store.exists(f"{deploy_app}/{deployment.version}/{METADATA_FILE}")
    return deployment.champion == read_current_version(store, deploy_app)
