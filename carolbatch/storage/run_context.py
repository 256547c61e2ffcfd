"""What the tasks of one run share besides their parameters: the Carol session, the BigQuery reader and the
Carol storages opened with them. Run control makes one per run and hands it to the tasks; none of it lives
in a module global."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carolbatch.storage.artifacts import ArtifactChecks
from carolbatch.storage.carol_platform import open_app_storage
from carolbatch.storage.checksums import RECORD_SUFFIX
from carolbatch.storage.run_scoped import RunScopedStore
from carolbatch.storage.service_accounts import ServiceAccounts
from carolbatch.storage.stores import CarolStore, LocalStore, ObjectStore


@dataclass
class RunContext:
    """One run's shared connections; a local run's has none.

    Attributes:
        carol: the run's Carol session (pycarol `Carol`), None in local mode.
        bigquery: the run's BigQuery reader (its one service account and OAuth token), None in local mode.
        accounts: the credentials every Google client of the run shares (one OAuth token per service
            account), None for clients with their own.
        artifact_checks: the target files this run verified and the damage it reported (`ArtifactChecks`).
        cloud_targets: the run's view of its targets in Carol storage, opened with the first of them.
        events: where tasks report what happened to them (anything with `note(kind, task_id, detail)`), set
            by run control around `luigi.build`; None when nobody listens.
        registry_lock: takes the model registry's lock, set by run control while the run holds no lock of its
            own (processes sharing a central scheduler); None while the run holds it (see `registry_writes`).
        write_delay_seconds: test hook, read once at start-up from `PIPELINE_TEST_WRITE_DELAY`: a pause
            inside every target write, so a test can kill a run mid-write. 0 in real runs.
    """

    carol: Any = None
    bigquery: Any = None
    accounts: ServiceAccounts | None = None
    events: Any = None
    artifact_checks: ArtifactChecks = field(default_factory=ArtifactChecks)
    app_stores: dict[str, ObjectStore] = field(default_factory=dict)
    cloud_targets: RunScopedStore | None = None
    registry_lock: Callable[[], AbstractContextManager] | None = None
    write_delay_seconds: float = 0.0

    def carol_session(self) -> Any:
        """The Carol session.

        Raises:
            RuntimeError: the run has none (a Carol-mode task given no Carol context by run control).
        """
        if self.carol is None:
            raise RuntimeError("Carol mode task run without a Carol session in its run context")
        return self.carol

    def bigquery_reader(self) -> Any:
        """The BigQuery reader.

        Raises:
            RuntimeError: the run has none (a Carol-mode task given no Carol context by run control).
        """
        if self.bigquery is None:
            raise RuntimeError("Carol mode task run without a BigQuery reader in its run context")
        return self.bigquery

    def app_store(self, app_name: str) -> ObjectStore:
        """An app's Carol storage, opened once a run: one storage token and one OAuth token, not one per target."""
        if app_name not in self.app_stores:
            storage = open_app_storage(self.carol_session(), app_name, self.accounts)
            self.app_stores[app_name] = CarolStore(storage, app_name)
        return self.app_stores[app_name]

    def target_store(self, cloud_targets: bool, target_dir: str) -> ObjectStore:
        """Where pipeline targets live: the batch app's Carol storage (one view a run, which remembers the
        records and sizes it read: `RunScopedStore`), else the local `target_dir`."""
        if not cloud_targets:
            return LocalStore(Path(target_dir))
        if self.cloud_targets is None:
            self.cloud_targets = RunScopedStore(self.app_store(self.carol_session().app_name), (RECORD_SUFFIX, ".pkl"))
        return self.cloud_targets

    def registry_store(self, carol_mode: bool, registry_dir: str, deploy_app: str) -> ObjectStore:
        """The deploy app's Carol storage in Carol mode, else the local registry folder."""
        if carol_mode:
            return self.app_store(deploy_app)
        return LocalStore(Path(registry_dir))

    def report(self, kind: str, task_id: str, detail: Any = None) -> None:
        """Pass a task event to run control, when it listens."""
        if self.events is not None:
            self.events.note(kind, task_id, detail)

    def registry_writes(self) -> AbstractContextManager:
        """Hold around a write to the model registry: its lock, unless the run holds it from start to end."""
        return self.registry_lock() if self.registry_lock is not None else nullcontext()
