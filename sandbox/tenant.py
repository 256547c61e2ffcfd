"""The sandbox's tenant: its names and ids, its apps' settings and the task logs, all kept in its folder."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TENANT_FILE = "tenant.json"
APPS_FILE = "apps.json"
TASK_LOG_FOLDER = "task_logs"
FAULTS_FILE = "faults.json"
# As Carol's settings call returns them: every setting declared in the app's UI, one left empty
# (None), values as text, and the settings of the app's other processes (here an online one).
DEFAULT_APPS = {
    "bostonhouse": {"model_epochs": "1000", "deploy_app": "bostonhouseonline", "feature_columns": None,
                    "online_reload_seconds": "60"},
    "bostonhouseonline": {},
}
# What `faults.json` may ask of an endpoint, for trying how the app copes with a failing Carol.
TASK_LOG_FAULTS = ("ok", "500", "hang")
# Carol's domain in the sandbox: reserved for testing (RFC 2606), so no call can leave the machine.
SANDBOX_DOMAIN = "carol.test"


@dataclass(frozen=True)
class Tenant:
    """Who the sandbox pretends to be; the ids are random, made once per sandbox folder."""

    name: str
    tenant_id: str
    organization: str
    organization_id: str
    app_name: str
    connector_id: str
    api_key: str
    domain: str = SANDBOX_DOMAIN

    @property
    def hosts(self) -> tuple[str, str]:
        """Carol's host names for the tenant: `{organization}.{domain}` and `{tenant}.{domain}`."""
        return f"{self.organization}.{self.domain}", f"{self.name}.{self.domain}"

    @property
    def project_id(self) -> str:
        """The BigQuery and Cloud Storage project, named as Carol names it."""
        return f"carol-{self.tenant_id[:20]}"

    @property
    def bucket(self) -> str:
        return f"carol-{self.tenant_id}"


def open_tenant(folder: Path, name: str = "sandbox", app_name: str = "bostonhouse") -> Tenant:
    """The tenant kept in `folder`, created (with `apps.json`) on first use.

    Args:
        folder: the sandbox folder.
        name: tenant name for a new sandbox (an existing one keeps its own).
        app_name: the app that runs in the sandbox, for a new sandbox.
    """
    path = folder / TENANT_FILE
    if path.is_file():
        return Tenant(**json.loads(path.read_text()))
    tenant = Tenant(
        name=name, tenant_id=secrets.token_hex(16), organization=f"{name}org",
        organization_id=secrets.token_hex(16), app_name=app_name, connector_id=secrets.token_hex(16),
        api_key=secrets.token_hex(16),
    )
    _write_json(path, asdict(tenant))
    if not (folder / APPS_FILE).is_file():
        _write_json(folder / APPS_FILE, DEFAULT_APPS)
    return tenant


def app_id(app_name: str) -> str:
    """A stable Carol-style id for an app name."""
    return hashlib.md5(app_name.encode()).hexdigest()


def read_apps(folder: Path) -> dict[str, dict[str, Any]]:
    """`{app name: {setting: value}}` as the user last saved `apps.json` (read on every call)."""
    return json.loads((folder / APPS_FILE).read_text())


def write_app_settings(folder: Path, app_name: str, settings: dict[str, Any]) -> None:
    """Replace one app's settings in `apps.json` (creating the app when it is new)."""
    apps = read_apps(folder)
    apps[app_name] = dict(settings)
    _write_json(folder / APPS_FILE, apps)


def append_task_log(folder: Path, task_id: str, entries: list[dict[str, Any]]) -> None:
    """Keep log entries posted to a Carol long task, one JSON object a line."""
    logs = folder / TASK_LOG_FOLDER
    logs.mkdir(exist_ok=True)
    with open(logs / f"{_safe_name(task_id)}.jsonl", "a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in entries)


def read_task_log(folder: Path, task_id: str) -> list[dict[str, Any]]:
    """The entries posted to a long task so far (empty when none)."""
    path = folder / TASK_LOG_FOLDER / f"{_safe_name(task_id)}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_faults(folder: Path) -> dict[str, Any]:
    """The faults asked of the sandbox's endpoints (read on every call; none when the file is missing)."""
    path = folder / FAULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def set_fault(folder: Path, endpoint: str, fault: str) -> None:
    """Make `endpoint` (`task_logs`) answer with `fault` (`ok`, `500`, `hang`) from its next call on."""
    if endpoint != "task_logs" or fault not in TASK_LOG_FAULTS:
        raise ValueError(f"unknown fault {endpoint}={fault}; task_logs takes one of {', '.join(TASK_LOG_FAULTS)}")
    _write_json(folder / FAULTS_FILE, {**read_faults(folder), endpoint: fault})


def refuse_storage(folder: Path, app_names: list[str], writes_only: bool = False) -> None:
    """Refuse these apps' storage from the next call on; an empty list refuses none.

    Args:
        folder: the sandbox folder.
        app_names: the apps whose storage is refused.
        writes_only: False: the storage token is refused (403). True: the token is given, but its
            bucket does not exist, so every write fails (404) and every read finds nothing.
    """
    key = "unwritable_storage" if writes_only else "refused_storage"
    _write_json(folder / FAULTS_FILE, {**read_faults(folder), key: list(app_names)})


def _safe_name(task_id: str) -> str:
    return "".join(character if character.isalnum() or character in "-_" else "_" for character in task_id)


def _write_json(path: Path, value: Any) -> None:
    """Write through a temporary file so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
    os.replace(temporary, path)
