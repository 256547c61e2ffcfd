"""Where a registry keeps things: plain names for deploy apps, versions and files, and the one way its files
are written.

Layout inside a store (a local folder or the deploy app's Carol storage): README.md, "Where outputs go".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

from carolbatch.errors import BAD_INPUT, AppError
from carolbatch.storage.stores import ObjectStore, write_bytes

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "checksums.json"
HISTORY_FILE = "history.jsonl"
POINTER_FILE = "current"
# Names inside an app's folder that are not versions.
RESERVED_NAMES = (POINTER_FILE, MODEL_FILE, HISTORY_FILE, "lock")
# Test hook, read only here: seconds to pause before each registry write, so a test can kill a deploy
# at any step. Unset in real runs.
WRITE_DELAY_VARIABLE = "REGISTRY_TEST_WRITE_DELAY"

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RegistryError(AppError):
    """The registry does not hold what was asked for, does not verify, or refuses a change."""

    default_exit_code = BAD_INPUT


def check_plain_name(kind: str, name: Any, reserved: Sequence[str] = RESERVED_NAMES) -> str:
    """Return `name` when it is one plain path component (letters, digits, `.`, `_`, `-`; no `/`, no `..`).

    Raises:
        RegistryError: it is anything else (an absolute path, `a/b`, `..`, empty, a reserved name).
    """
    if not is_plain_name(name, reserved):
        raise RegistryError(f"{kind} {name!r} is not a plain name (letters, digits, '.', '_', '-'; "
                            f"no '/', no '..', not one of {', '.join(reserved)})")
    return name


def is_plain_name(name: Any, reserved: Sequence[str] = RESERVED_NAMES) -> bool:
    """Whether `name` is one plain path component and not a reserved name (see `check_plain_name`)."""
    return isinstance(name, str) and bool(_PLAIN_NAME.match(name)) and name not in reserved and ".." not in name


def check_version_id(version: str) -> str:
    """Raises `RegistryError` unless `version` is a plain name."""
    return check_plain_name("model version", version)


def registry_name(deploy_app: str, *parts: str) -> str:
    """The name of a registry file or folder of `deploy_app` in its store.

    Raises:
        RegistryError: `deploy_app` is not a plain name.
    """
    return "/".join([check_plain_name("deploy_app", deploy_app, reserved=()), *parts])


def version_folder(deploy_app: str, version: str) -> str:
    """The folder of one version (`RegistryError` unless both names are plain)."""
    return registry_name(deploy_app, check_version_id(version))


def current_pointer(deploy_app: str) -> str:
    """The `current` file: the current version's id, derived from the history."""
    return registry_name(deploy_app, POINTER_FILE)


def stable_model_name(deploy_app: str) -> str:
    """Where an online app finds the current model, whatever its version."""
    return registry_name(deploy_app, MODEL_FILE)


def write_registry_file(store: ObjectStore, name: str, data: bytes) -> None:
    """Write one registry file whole (the store renames it into place); pauses for the test hook first."""
    time.sleep(float(os.environ.get(WRITE_DELAY_VARIABLE) or 0))
    write_bytes(store, name, data)
