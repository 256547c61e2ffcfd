"""The registry's rules without I/O: plain names, the history log that decides the current version, checksums.

The history log (`<deploy_app>/history.jsonl`) is the registry's single source of truth: writing it whole
is the one atomic step of a deploy or a rollback. `current` and the stable `model.pkl` are derived
from it and repaired when they disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Names inside an app's folder that are not versions.
RESERVED_NAMES = ("current", "model.pkl", "history.jsonl", "lock")


class HistoryError(ValueError):
    """A name is not plain, or the history log or a checksum manifest has the wrong shape."""


def check_plain_name(kind: str, name: Any, reserved: Sequence[str] = RESERVED_NAMES) -> str:
    """Return `name` when it is one plain path component (letters, digits, `.`, `_`, `-`; no `/`, no `..`).

    Raises:
        HistoryError: it is anything else (an absolute path, `a/b`, `..`, empty, a reserved name).
    """
    if not isinstance(name, str) or not _PLAIN_NAME.match(name) or name in reserved or ".." in name:
        raise HistoryError(f"{kind} {name!r} is not a plain name (letters, digits, '.', '_', '-'; "
                           f"no '/', no '..', not one of {', '.join(reserved)})")
    return name


def parse_history(data: bytes, where: str) -> list[dict[str, Any]]:
    """The entries of a history log, oldest first.

    Raises:
        HistoryError: a line is not a JSON object with a plain `version` and an `action`.
    """
    entries = []
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            check_plain_name("version", entry["version"])
            if entry["action"] not in ("deploy", "rollback", "remove"):
                raise ValueError(entry["action"])
        except (ValueError, KeyError, TypeError):
            raise HistoryError(f"{where} line {number} is not a registry history entry") from None
        entries.append(entry)
    return entries


def current_chain(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The versions that are current, each over the one it replaced: the last is current now.

    A deploy puts its version on top; a rollback to a version in the chain goes back to it (what was
    above is dropped, so it is never returned to by a rollback without a version); a rollback to any
    other version puts it on top. A removed version leaves the chain.
    """
    chain: list[str] = []
    for entry in entries:
        version = entry["version"]
        if entry["action"] == "remove":
            chain = [known for known in chain if known != version]
        elif entry["action"] == "rollback" and version in chain:
            chain = chain[: chain.index(version) + 1]
        else:
            chain.append(version)
    return chain


def history_line(action: str, version: str, previous: str | None) -> bytes:
    """One history entry as a JSON line."""
    entry = {"at": datetime.now(timezone.utc).isoformat(), "action": action, "version": version,
             "previous": previous}
    return json.dumps(entry).encode() + b"\n"


def parse_manifest(data: bytes, where: str) -> dict[str, dict[str, Any]]:
    """File name to `{"size", "sha256"}` from a version's checksum manifest.

    Raises:
        HistoryError: the manifest is not such a mapping of plain file names.
    """
    try:
        files = json.loads(data)["files"]
        for name, record in files.items():
            check_plain_name("file", name, reserved=())
            if not isinstance(record["size"], int) or not isinstance(record["sha256"], str):
                raise ValueError(name)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HistoryError(f"{where} is not a checksum manifest") from None
    return files


def select_removable_versions(
    complete: Sequence[str], chain: Sequence[str], keep_models: int
) -> list[str]:
    """Versions retention may remove: all but the newest `keep_models`, never the current one nor the one
    current before it (the target of a rollback without a version).

    Args:
        complete: every complete version id, oldest first.
        chain: the current chain from the history (see `current_chain`).
        keep_models: how many of the newest versions to keep.
    """
    protected = set(chain[-2:])
    newest = set(complete[-keep_models:]) if keep_models else set()
    return [version for version in complete if version not in protected | newest]
