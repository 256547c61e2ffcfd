"""Locks that keep two processes from changing the same target folder or model registry at once.

Locally a lock is an OS file lock (`flock`) on a `.lock` file: the kernel releases it when its holder
exits, however it ends. The file also names the holder, for the message of a process that does not wait.
In Carol storage a lock is an object created only if absent (generation precondition 0), refreshed by its
holder and taken over once it has not been refreshed for `stale_seconds` (a holder that was killed).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from carolbatch.errors import AppError

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"


class LockBusyError(AppError):
    """Another process holds the lock and the caller chose not to wait."""


def describe_holder(data: bytes) -> str:
    """`pid N on HOST (PURPOSE) since TIME` from a lock's contents, or a plain fallback."""
    try:
        holder = json.loads(data)
        return f"pid {holder['pid']} on {holder['host']} ({holder['purpose']}) since {holder['since']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


def holder_record(purpose: str) -> bytes:
    """What a lock says about the process holding it."""
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "since": since}).encode()


@contextmanager
def local_lock(folder: Path, purpose: str, wait: bool, poll_seconds: float = 0.2) -> Iterator[None]:
    """Hold the lock of a local folder for the duration of the `with` block.

    Args:
        folder: the target folder or registry folder (created if missing).
        purpose: what the holder does, shown to processes that find the lock taken.
        wait: wait for the holder to finish; otherwise raise at once.
        poll_seconds: how often a waiting process tries again.

    Raises:
        LockBusyError: the lock is taken and `wait` is false; the message names the holder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(descriptor, path, wait, poll_seconds)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, holder_record(purpose), 0)
        yield
    finally:
        # Closing releases the lock; the file stays (removing it would let a waiter lock an unlinked file).
        os.close(descriptor)


def _acquire(descriptor: int, path: Path, wait: bool, poll_seconds: float) -> None:
    announced = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = describe_holder(path.read_bytes())
            if not wait:
                raise LockBusyError(f"{path.parent} is locked by {holder}") from None
            if not announced:
                logger.info("waiting for %s, locked by %s", path.parent, holder)
                announced = True
            time.sleep(poll_seconds)


@contextmanager
def local_locks(folders: list[Path], purpose: str, wait: bool) -> Iterator[None]:
    """Hold the locks of several folders, taken in a fixed order so two processes never deadlock."""
    ordered = sorted({folder.resolve() for folder in folders})
    with ExitStack() as stack:
        for folder in ordered:
            stack.enter_context(local_lock(folder, purpose, wait))
        yield


@contextmanager
def carol_lock(store, name: str, purpose: str, wait: bool, stale_seconds: float = 300,
               poll_seconds: float = 1.0) -> Iterator[None]:
    """Hold a lock object `name` in a Carol storage (`CarolStore`) for the duration of the `with` block.

    Raises:
        LockBusyError: the lock is held (and not stale) and `wait` is false; the message names the holder.
    """
    from google.api_core.exceptions import NotFound, PreconditionFailed

    blob = store.blob(name)
    _acquire_object(store, name, blob, purpose, wait, stale_seconds, poll_seconds)
    stop = threading.Event()
    refresher = threading.Thread(target=_refresh, args=(blob, purpose, stale_seconds / 4, stop), daemon=True)
    refresher.start()
    try:
        yield
    finally:
        stop.set()
        refresher.join()
        try:
            blob.delete(if_generation_match=blob.generation)
        except (NotFound, PreconditionFailed):
            logger.warning("%s was taken over while held", store.describe(name))


def _acquire_object(store, name: str, blob, purpose: str, wait: bool, stale_seconds: float, poll_seconds: float) -> None:
    """Create the lock object, waiting for (or taking over a stale) holder; LockBusyError if not `wait`."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    announced = False
    while not _create(store, name, blob, purpose):
        found = blob.bucket.get_blob(blob.name)
        if found is None:
            continue
        age = time.time() - found.updated.timestamp()
        if age > stale_seconds:
            logger.warning("taking over %s: not refreshed for %.0f s", store.describe(name), age)
            try:
                found.delete(if_generation_match=found.generation)
            except (NotFound, PreconditionFailed):
                pass
            continue
        holder = describe_holder(found.download_as_bytes())
        if not wait:
            raise LockBusyError(f"{store.describe(name)} is locked by {holder}")
        if not announced:
            logger.info("waiting for %s, locked by %s", store.describe(name), holder)
            announced = True
        time.sleep(poll_seconds)


def _create(store, name: str, blob, purpose: str) -> bool:
    """Create the lock object if it does not exist; False when it does.

    Raises:
        StorageError: the storage refuses the object (the run cannot go on safely), in one line.
    """
    from google.api_core.exceptions import PreconditionFailed

    from carolbatch.storage.stores import StorageError

    try:
        blob.upload_from_string(holder_record(purpose), if_generation_match=0)
    except PreconditionFailed:
        return False
    except Exception as error:  # google-cloud-storage raises many kinds
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StorageError(f"{store.describe(name)} could not be written: {reason[:300]}") from None
    return True


def _refresh(blob, purpose: str, every: float, stop: threading.Event) -> None:
    """Rewrite the lock object while it is held, so others never see it stale."""
    while not stop.wait(every):
        try:
            blob.upload_from_string(holder_record(purpose), if_generation_match=blob.generation)
        except Exception as error:  # noqa: BLE001 (a refresh that fails is reported, the work goes on)
            logger.warning("could not refresh the lock %s: %s", blob.name, error)
