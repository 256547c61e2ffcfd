"""Locks that keep two processes from changing the same target folder or model registry at once.

Locally a lock is an OS file lock (`flock`) on a `.lock` file: the kernel releases it when its holder
exits, however it ends. The file also names the holder, for the message of a process that does not wait.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"


class LockBusyError(RuntimeError):
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
