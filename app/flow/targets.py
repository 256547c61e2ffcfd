"""`PickleTarget` that writes atomically and verifies a checksum before trusting an output."""

from __future__ import annotations

import luigi
from pycarol.pipeline import PickleTarget

from app.functions.artifacts import (
    artifact_is_valid,
    artifact_looks_damaged,
    artifact_size,
    delete_artifact,
    inspect_artifact,
    load_artifact,
    save_artifact,
)


class VerifiedPickleTarget(PickleTarget):
    """One task output in the task's store: local `target_dir` or the app's Carol storage.

    pycarol's own `PickleTarget` writes in place and logs in to Carol when it is created; this one
    takes its store from the task and is complete only when its bytes match their checksum record.
    """

    def __init__(self, task) -> None:
        self.task = task
        self.store = task.target_store()
        self.name = f"{task.target_prefix()}{task.get_task_family()}/{task.identity()}.pkl"
        luigi.LocalTarget.__init__(self, path=self.store.describe(self.name))

    def exists(self) -> bool:
        return artifact_is_valid(self.store, self.name)

    def state(self) -> str:
        """`valid`, `missing` or `corrupt` (see `inspect_artifact`)."""
        return inspect_artifact(self.store, self.name)

    def looks_damaged(self) -> bool:
        """A cheap check that reads no artifact bytes (see `artifact_looks_damaged`)."""
        return artifact_looks_damaged(self.store, self.name)

    def size(self) -> int | None:
        return artifact_size(self.store, self.name)

    def load(self):
        return load_artifact(self.store, self.name)

    def dump(self, value) -> None:
        save_artifact(self.store, self.name, value)

    def remove(self) -> None:
        delete_artifact(self.store, self.name)

    def dump_metadata(self, metadata: dict) -> None:
        """Task metadata is part of the run record, not a file beside each target."""

    def remove_metadata(self) -> None:
        """Nothing to remove: see `dump_metadata`."""
