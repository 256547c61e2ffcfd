"""Following the registry: load, check and swap in new versions, keep the old one when a new one is bad."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pandas as pd
import pytest

from carolbatch.registry import load_current, load_current_model, publish_model, rollback_model
from carolbatch.storage.stores import LocalStore, write_bytes
from carolbatch.online.follower import ModelFollower
from carolbatch.online.source import LocalModelSource
from tests.conftest import FEATURES
from tests.platform.online.conftest import APP, deploy

ROWS = pd.DataFrame([[0.1, -0.2, 0.3], [1.0, 2.0, -1.0]], columns=list(FEATURES))


class CountingStore(LocalStore):
    """A real local store that counts the objects it hands out; it is its own model source."""

    location = "counting store"

    def __init__(self, root) -> None:
        super().__init__(root)
        self.copies: list[str] = []

    def local_copy(self, name):
        self.copies.append(name)
        return super().local_copy(name)

    def store(self):
        return self

    def renew(self) -> None:
        pass


def publish_variant(registry, version: str, model_bytes: bytes | None = None, **metadata) -> None:
    """Publish the current model again as `version` through the registry, with `metadata` changed; then,
    if given, replace the version's model file with `model_bytes`, as a damaged upload would."""
    current = load_current(registry, APP)
    publish_model(registry, APP, version, current.model, {**current.metadata, **metadata, "version": version})
    if model_bytes is not None:
        write_bytes(registry, f"{APP}/{version}/model.pkl", model_bytes)


def test_nothing_deployed_yet_is_a_reason_not_an_error(follower, caplog):
    follower.poll_safely()
    assert follower.served is None and "no model deployed yet" in follower.problem
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_serves_the_current_version_as_the_registry_loads_it(follower, registry, tiny_frame):
    deploy(registry, "v1", tiny_frame)
    follower.poll()
    assert follower.served.version == "v1" and follower.problem == ""
    assert follower.served.predict(ROWS) == load_current_model(registry, APP).predict(ROWS).tolist()
    assert follower.served.describe()["data_fingerprint"] == "file:tiny"


def test_an_unchanged_current_costs_one_metadata_look_and_no_read(tmp_path, tiny_frame):
    store = CountingStore(tmp_path / "models")
    deploy(store, "v1", tiny_frame)
    follower = ModelFollower(store, APP, 1.0)
    follower.poll()
    store.copies = []
    follower.poll()
    follower.poll()
    assert store.copies == []


def test_deploys_and_rollbacks_are_followed(follower, registry, tiny_frame):
    deploy(registry, "v1", tiny_frame)
    follower.poll()
    deploy(registry, "v2", tiny_frame, random_state=5)
    follower.poll()
    assert follower.served.version == "v2"
    rollback_model(registry, APP)
    follower.poll()
    assert follower.served.version == "v1"
    assert follower.served.predict(ROWS) == load_current_model(registry, APP).predict(ROWS).tolist()


@pytest.mark.parametrize("model_bytes, extra, words", [
    (b"not a joblib dump", {}, "not loaded (still serving v1)"),
    (None, {"check_record": {"features": {"a": 0.0, "b": 0.0, "c": 0.0}, "prediction": 12345.0}},
     "v2 refused: it predicts"),
    (None, {"check_record": {"features": {"a": 0.0}, "prediction": 1.0}}, "v2 refused: it cannot predict"),
])
def test_a_bad_new_version_is_refused_logged_once_and_the_old_keeps_serving(
        follower, registry, tiny_frame, caplog, model_bytes, extra, words):
    deploy(registry, "v1", tiny_frame)
    follower.poll()
    publish_variant(registry, "v2", model_bytes, **extra)
    for _ in range(3):
        follower.poll_safely()
    assert follower.served.version == "v1" and follower.problem == ""
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and words in errors[0], errors
    rollback_model(registry, APP, "v1")
    follower.poll_safely()
    deploy(registry, "v3", tiny_frame, random_state=3)
    follower.poll_safely()
    assert follower.served.version == "v3"


def test_a_version_without_check_record_is_served_if_it_predicts_finite_numbers(follower, registry, tiny_frame):
    deploy(registry, "v1", tiny_frame)
    publish_variant(registry, "v1b", check_record=None)
    follower.poll()
    assert follower.served.version == "v1b"


def test_a_bad_first_version_leaves_health_with_the_reason(follower, registry, tiny_frame):
    deploy(registry, "v1", tiny_frame)
    publish_variant(registry, "v2", b"garbage")
    follower.poll_safely()
    assert follower.served is None and "not loaded (no model served)" in follower.problem


def test_the_follower_thread_picks_up_a_deploy_and_stops(follower, registry, tiny_frame):
    stop = follower.start()
    try:
        deploy(registry, "v1", tiny_frame)
        deadline = time.monotonic() + 5
        while follower.served is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.served.version == "v1"
    finally:
        stop.set()


class FlakyStore(CountingStore):
    """Fails its first metadata look, as a Carol storage with an expired token would; counts renewals."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.renewals = 0

    def change_marker(self, name):
        if self.renewals == 0:
            raise ConnectionError("token expired")
        return super().change_marker(name)

    def renew(self) -> None:
        self.renewals += 1


def test_a_failed_look_renews_the_source_and_the_next_poll_recovers(tmp_path, tiny_frame):
    store = FlakyStore(tmp_path / "models")
    deploy(store, "v1", tiny_frame)
    follower = ModelFollower(store, APP, 1.0)
    follower.poll_safely()
    assert follower.served is None and "token expired" in follower.problem and store.renewals == 1
    follower.poll_safely()
    assert follower.served.version == "v1" and follower.problem == ""


@pytest.mark.parametrize("poll_seconds", [1e10, float("inf")])
def test_a_huge_poll_interval_never_ends_the_follower_thread(registry, tiny_frame, poll_seconds):
    follower = ModelFollower(LocalModelSource(registry.root, APP), APP, poll_seconds=poll_seconds)
    deploy(registry, "v1", tiny_frame)
    stop = follower.start()
    try:
        time.sleep(0.5)
        threads = [thread for thread in threading.enumerate() if thread.name == "model-follower"]
        assert follower.served.version == "v1" and threads and all(thread.is_alive() for thread in threads)
    finally:
        stop.set()
