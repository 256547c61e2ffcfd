"""Where the online app finds its models: the local registry folder, or the deploy app's Carol storage."""

from __future__ import annotations

import time
from pathlib import Path

from carolbatch.storage.carol_platform import open_app_storage
from carolbatch.storage.stores import CarolStore, LocalStore, ObjectStore

# pycarol's Storage keeps the storage token and Google client it got when created; a server outlives
# them, so it makes a new one now and then (and after any failed call).
STORAGE_RENEW_SECONDS = 300.0


class LocalModelSource:
    """The registry folder `run.py` deploys to locally."""

    def __init__(self, registry_dir: Path, deploy_app: str) -> None:
        self._store = LocalStore(Path(registry_dir))
        self.location = self._store.describe(deploy_app)

    def store(self) -> ObjectStore:
        return self._store

    def renew(self) -> None:
        """Nothing to renew in a folder."""


class CarolModelSource:
    """The Carol storage of `deploy_app` (the online app itself when it runs as that app)."""

    def __init__(self, carol, deploy_app: str, renew_seconds: float = STORAGE_RENEW_SECONDS) -> None:
        self.carol = carol
        self.deploy_app = deploy_app
        self.renew_seconds = renew_seconds
        self.location = f"Carol storage of app {deploy_app}"
        self._store: CarolStore | None = None
        self._opened_at = 0.0

    def store(self) -> ObjectStore:
        """The deploy app's storage, opened again once it is `renew_seconds` old."""
        if self._store is None or time.monotonic() - self._opened_at > self.renew_seconds:
            self._store = CarolStore(open_app_storage(self.carol, self.deploy_app), self.deploy_app)
            self._opened_at = time.monotonic()
        return self._store

    def renew(self) -> None:
        """Open the storage again on the next call (a call failed: the token may have expired)."""
        self._store = None
