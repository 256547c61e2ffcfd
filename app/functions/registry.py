"""The model registry: immutable model versions of a deploy app and a pointer to the current one.

Layout inside a store (a local folder or the deploy app's Carol storage)::

    <deploy_app>/<version>/model.pkl       joblib dump of the fitted scikit-learn pipeline
    <deploy_app>/<version>/metadata.json   settings, metrics, row counts, source
    <deploy_app>/current                   the current version id (text)
    <deploy_app>/model.pkl                 a copy of the current model, at a name that never changes
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from app.functions.evaluation import Evaluation
from app.functions.modeling import TrainedModel
from app.functions.stores import ObjectStore, read_bytes, write_bytes

logger = logging.getLogger(__name__)

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
SOURCE_SETTINGS = ("carol_mode", "data_path", "input_connector", "input_staging", "data_fingerprint")


class RegistryError(RuntimeError):
    """The registry does not hold what was asked for, or refuses a change."""


def current_pointer(deploy_app: str) -> str:
    return f"{deploy_app}/current"


def stable_model_name(deploy_app: str) -> str:
    """Where an online app finds the current model, whatever its version."""
    return f"{deploy_app}/{MODEL_FILE}"


def make_version_id(created_at: datetime, digest: str) -> str:
    """A version id that sorts by creation time and names the run that made it."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{digest[:8]}"


def publish_model(
    store: ObjectStore,
    deploy_app: str,
    version: str,
    model: Any,
    metadata: Mapping[str, Any],
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
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / MODEL_FILE
        joblib.dump(model, model_path)
        store.write_file(f"{deploy_app}/{version}/{MODEL_FILE}", model_path)
        for file_name, data in (attachments or {}).items():
            write_bytes(store, f"{deploy_app}/{version}/{file_name}", data)
        write_bytes(store, version_metadata, json.dumps(metadata, indent=2, default=str).encode())
        store.write_file(stable_model_name(deploy_app), model_path)
    write_bytes(store, current_pointer(deploy_app), version.encode())
    logger.info("published model version %s to %s", version, store.describe(f"{deploy_app}/{version}"))


def read_current_version(store: ObjectStore, deploy_app: str) -> str | None:
    """The current version id of `deploy_app`, or None before the first deployment."""
    data = read_bytes(store, current_pointer(deploy_app))
    return None if data is None else data.decode().strip()


def read_version_metadata(store: ObjectStore, deploy_app: str, version: str) -> dict[str, Any]:
    """The metadata of one version.

    Raises:
        RegistryError: the version does not exist.
    """
    data = read_bytes(store, f"{deploy_app}/{version}/{METADATA_FILE}")
    if data is None:
        raise RegistryError(f"model version {version} of {deploy_app} not found in {store.describe(deploy_app)}")
    return json.loads(data)


def load_current_model(store: ObjectStore, deploy_app: str) -> Any | None:
    """Load the model an online app should serve: the current version of `deploy_app`.

    Works the same on a local registry folder (`LocalStore`) and on the deploy app's Carol storage
    (`CarolStore`). Returns None when nothing has been deployed yet.

    Raises:
        RegistryError: `current` names a version whose model file is missing.
    """
    version = read_current_version(store, deploy_app)
    if version is None:
        return None
    path = store.local_copy(f"{deploy_app}/{version}/{MODEL_FILE}")
    if path is None:
        raise RegistryError(f"current model version {version} of {deploy_app} has no {MODEL_FILE}")
    return joblib.load(path)


@dataclass(frozen=True)
class Deployment:
    """What a deploy step did: the version it published (None when it published nothing) and why."""

    version: str | None
    reason: str


def build_metadata(version: str, settings: Mapping[str, Any], trained: TrainedModel, evaluation: Evaluation) -> dict:
    """The facts kept beside a model version."""
    return {
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "settings": dict(settings),
        "metrics": {"train": asdict(evaluation.train), "test": asdict(evaluation.test)},
        "rows": {"train": len(trained.split.train_rows), "test": len(trained.split.test_rows)},
        "epochs_run": trained.epochs_run,
        "source": {key: settings.get(key) for key in SOURCE_SETTINGS},
    }
