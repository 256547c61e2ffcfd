"""Training checkpoints: the state a task needs to continue its training after a kill, kept in its own store.

A checkpoint is an artifact (carolbatch/storage/artifacts.py: written atomically, then its checksum record)
named by the task's family and identity, `<prefix>checkpoints/<family>.<identity>.pkl`, so no other identity
ever reads it; the family and identity are kept inside it too, so a checkpoint copied or renamed under
another identity is not resumed. The task deletes it once its output is written; `--force` deletes it before
the task reruns, and `--gc` removes every checkpoint. A checkpoint that does not verify, load or belong to
this identity is ignored with a warning (and deleted): training then starts from its first epoch. A write that
fails (a full disk) removes what it wrote and training goes on: no checkpoint is left without its record.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from carolbatch.storage.artifacts import ArtifactChecks, delete_artifact, load_artifact, save_artifact
from carolbatch.storage.checksums import read_record
from carolbatch.storage.stores import ObjectStore

logger = logging.getLogger(__name__)

CHECKPOINT_FOLDER = "checkpoints/"
_CHECKPOINT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[0-9a-f]{64}\.pkl(?:\.sha256)?$")


def checkpoint_name(prefix: str, family: str, identity: str) -> str:
    """The stored name of a task's checkpoint: `<prefix>checkpoints/<family>.<identity>.pkl`."""
    return f"{prefix}{CHECKPOINT_FOLDER}{family}.{identity}.pkl"


def select_checkpoints(names: Iterable[str], prefix: str = "") -> list[str]:
    """The stored names among `names` that are checkpoints (or their checksum records), for clean-up."""
    folder = prefix + CHECKPOINT_FOLDER
    return sorted(name for name in names
                  if name.startswith(folder) and _CHECKPOINT_NAME.match(name[len(folder):]))


@dataclass
class Checkpoints:
    """Where one task keeps its training checkpoint, and how often it writes one.

    Attributes:
        store: the task's own store (local target folder or the app's Carol storage).
        name: from `checkpoint_name`.
        label: who trains, for the log (the task family).
        every_epochs: write a checkpoint after every this many epochs ...
        min_seconds: ... but not sooner than this after the previous one (or the start of training, `load`):
            epochs of a few milliseconds would spend most of their time writing checkpoints.
        checks: the run's artifact checks.
        clock: seconds, for `min_seconds`.
    """

    store: ObjectStore
    name: str
    label: str
    every_epochs: int = 1
    min_seconds: float = 0.0
    checks: ArtifactChecks | None = None
    clock: Callable[[], float] = time.monotonic
    _last: float | None = field(default=None, init=False, repr=False)

    def due(self, epoch: int) -> bool:
        """Whether a checkpoint is written after `epoch`."""
        recent = self._last is not None and self.clock() - self._last < self.min_seconds
        return epoch % max(1, self.every_epochs) == 0 and not recent

    def save(self, epoch: int, state: Any) -> None:
        """Keep `state`, the training's state after `epoch`, in place of the previous checkpoint.

        A write that fails (a full disk) is a warning: what it left is removed and training goes on.
        """
        try:
            save_artifact(self.store, self.name, {"epoch": epoch, "state": state, "owner": self._owner},
                          summary={"epoch": epoch}, checks=self.checks)
        except OSError as error:
            logger.warning("%s checkpoint after epoch %d not written (%s); training goes on without it",
                           self.label, epoch, _one_line(error))
            self._delete_quietly()
            return
        finally:
            self._last = self.clock()
        logger.debug("%s checkpoint after epoch %d: %s", self.label, epoch, self.store.describe(self.name))

    def load(self) -> tuple[int, Any] | None:
        """The epoch and state of the last checkpoint, or None when there is none or it does not verify.

        Training starts (or goes on) now: the first checkpoint is due `min_seconds` from here.
        """
        self._last = self.clock()
        if read_record(self.store, self.name) is None and not self.store.exists(self.name):
            return None
        try:
            kept = load_artifact(self.store, self.name, self.checks)
            epoch, state = int(kept["epoch"]), kept["state"]
            if kept.get("owner") != self._owner:
                raise ValueError(f"it was written for {kept.get('owner')!r}, not {self._owner!r}")
        except Exception as error:  # noqa: BLE001 (a damaged or foreign checkpoint must never crash the run)
            logger.warning("ignoring the %s checkpoint %s: %s; training from the first epoch", self.label,
                           self.store.describe(self.name), _one_line(error))
            self.delete()
            return None
        logger.info("resuming %s from epoch %d checkpoint (%s)", self.label, epoch, self.store.describe(self.name))
        return epoch, state

    def delete(self) -> None:
        """Remove the checkpoint, its record first (see `delete_artifact`)."""
        delete_artifact(self.store, self.name)

    @property
    def _owner(self) -> str:
        """The family and identity the checkpoint belongs to: its file name, without the store's prefix."""
        return self.name.rsplit("/", 1)[-1]

    def _delete_quietly(self) -> None:
        try:
            self.delete()
        except OSError as error:
            logger.warning("%s checkpoint %s could not be removed either (%s)", self.label,
                           self.store.describe(self.name), _one_line(error))


def _one_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
