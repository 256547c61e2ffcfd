"""Follow the deploy app's `current` model: poll a cheap marker, load a new version fully, check it, swap it in."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from carolbatch.registry import (
    CurrentModel,
    RegistryError,
    load_current,
    read_current_marker,
    read_current_version,
)
from carolbatch.storage.stores import ObjectStore
from carolbatch.online.served import ServedModel, check_current_model

logger = logging.getLogger(__name__)

_UNSEEN = object()
# The longest wait between polls whatever `poll_seconds` says (the settings bound it too): a huge value
# must not end the thread (`Event.wait` refuses timeouts beyond the platform's limit).
MAX_POLL_SECONDS = 86400.0


class ModelSource(Protocol):
    location: str

    def store(self) -> ObjectStore: ...

    def renew(self) -> None: ...


class ModelFollower:
    """Holds the served model and replaces it, whole, when the registry's `current` moves.

    Request threads read `served` once per request; the poller replaces it with one assignment, so a
    request sees the old version or the new one, never a mix. A version that fails to load or to pass
    its check is logged once and the previous version keeps serving.
    """

    def __init__(self, source: ModelSource, deploy_app: str, poll_seconds: float) -> None:
        self.source = source
        self.deploy_app = deploy_app
        self.poll_seconds = poll_seconds
        self.served: ServedModel | None = None
        self.problem = f"loading the current model of {deploy_app} from {source.location}"
        self._marker: object = _UNSEEN
        self._reported: set[str] = set()

    def poll(self) -> None:
        """Look at `current` once; load, check and swap in the version it names if that is new.

        Raises:
            Exception: whatever reading or loading the version raised; `served` is then unchanged.
        """
        store = self.source.store()
        marker = read_current_marker(store, self.deploy_app)
        if marker == self._marker:
            return
        version = read_current_version(store, self.deploy_app)
        if version is None:
            self.problem = f"no model deployed yet to {self.source.location}"
        elif self.served is None or version != self.served.version:
            self._swap_in(check_current_model(self._load(store, version)))
        self._marker = marker

    def _load(self, store: ObjectStore, version: str) -> CurrentModel:
        try:
            current = load_current(store, self.deploy_app)  # `current` may have moved since: fine, it is newer
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
            raise RegistryError(f"model version {version} could not be loaded: {problem}") from None
        if current is None:
            raise RegistryError(f"model version {version} stopped being current and nothing is")
        return current

    def _swap_in(self, loaded: ServedModel) -> None:
        previous = self.served
        self.served = loaded
        self.problem = ""
        logger.info("serving model version %s of %s (was %s)", loaded.version, self.deploy_app,
                    previous.version if previous else "none")

    def poll_safely(self) -> None:
        """`poll`, turning a failure into one log line per distinct problem."""
        try:
            self.poll()
        except Exception as error:  # a bad version, storage or network error: keep what is served
            self.source.renew()
            kept = f"still serving {self.served.version}" if self.served else "no model served"
            lines = str(error).strip().splitlines()
            message = f"current model of {self.deploy_app} not loaded ({kept}): {lines[0] if lines else repr(error)}"
            if self.served is None:
                self.problem = message
            if message not in self._reported:
                self._reported.add(message)
                logger.error("%s", message)

    def follow(self, stop: threading.Event) -> None:
        """Poll now and then every `poll_seconds` (at most a day) until `stop` is set."""
        wait = min(max(float(self.poll_seconds), 0.0), MAX_POLL_SECONDS)
        while True:
            self.poll_safely()
            if stop.wait(wait):
                return

    def start(self) -> threading.Event:
        """Follow in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.follow, args=(stop,), name="model-follower", daemon=True).start()
        return stop

