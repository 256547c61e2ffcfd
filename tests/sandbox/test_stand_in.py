"""The app's Carol functions against an in-process sandbox: pycarol's real HTTP, OAuth, BigQuery and storage code."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from pycarol.carolina import Carolina

from app.functions.sources import build_staging_query
from app.functions.storage.carol_platform import (
    CarolUnavailableError,
    check_carol_reachable,
    connect_carol,
    credentials_from_environment,
    fetch_app_settings,
    open_app_storage,
    query_staging,
)
from app.functions.storage.stores import CarolStore, read_bytes, write_bytes
from sandbox.server import free_port, start_sandbox
from sandbox.staging import stage_records
from sandbox.tenant import read_task_log, write_app_settings


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(tmp_path_factory.mktemp("stand_in"))
    yield running
    running.stop()


@pytest.fixture
def environment(sandbox, monkeypatch):
    """The sandbox's variables in this process (pycarol and google clients read them), and no cached token."""
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Carolina, "token", None)
    return sandbox.environment()


@pytest.fixture
def carol(environment):
    return connect_carol(credentials_from_environment(environment))


def test_app_settings_are_read_from_apps_json(sandbox, carol):
    write_app_settings(sandbox.folder, "bostonhouse", {"model_epochs": "7", "test_size": "0.3"})
    assert fetch_app_settings(carol) == {"model_epochs": "7", "test_size": "0.3"}


def test_staging_query_runs_through_pycarol_bq(sandbox, carol):
    frame = pd.DataFrame({"sample": [1, 1, 2], "x": [1.0, 2.0, 3.0], "mdmId": ["a", "a", "b"],
                          "mdmCounterForEntity": [1, 2, 1], "mdmDeleted": [False, False, True],
                          "mdmLastUpdated": ["2026-01-01 00:00:00"] * 3})
    stage_records(sandbox.folder, "conn", "stuff", frame)
    result = query_staging(carol, build_staging_query("conn", "stuff", ["sample", "x"]))
    assert result.to_dict("list") == {"sample": [1], "x": [2.0]}


def test_each_app_has_its_own_storage(carol):
    own = CarolStore(open_app_storage(carol, carol.app_name), carol.app_name)
    other = CarolStore(open_app_storage(carol, "otherapp"), "otherapp")
    write_bytes(own, "pipeline/a.pkl", b"mine")
    write_bytes(other, "models/current", b"theirs")
    assert read_bytes(own, "pipeline/a.pkl") == b"mine" and not other.exists("pipeline/a.pkl")
    assert other.list_names("models/") == ["models/current"]
    other.delete("models/current")
    assert read_bytes(other, "models/current") is None


def test_task_log_lines_are_kept_per_task(sandbox, carol):
    from pycarol.tasks import Tasks

    tasks = Tasks(carol)
    tasks.task_id = "t-9"  # as pycarol's CarolHandler sets it
    tasks.add_log("hello", log_level="INFO")
    assert read_task_log(sandbox.folder, "t-9") == [
        {"mdmTaskId": "t-9", "mdmLogMessage": "hello", "mdmLogLevel": "INFO"}]


def test_a_wrong_api_key_is_refused(environment):
    credentials = credentials_from_environment({**environment, "CAROLAPPOAUTH": "wrong"})
    with pytest.raises(CarolUnavailableError, match="invalid API key"):
        connect_carol(credentials)


def test_reachability_needs_a_listening_server_and_a_trusted_certificate(environment, monkeypatch):
    host, port = environment["CAROL_HOST"], int(environment["CAROL_PORT"])
    check_carol_reachable(host, port)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(CarolUnavailableError, match="TLS handshake failed"):
        check_carol_reachable(host, port)


def test_connecting_to_a_closed_port_fails_in_seconds(environment):
    credentials = credentials_from_environment({**environment, "CAROL_PORT": str(free_port())})
    started = time.monotonic()
    with pytest.raises(CarolUnavailableError, match="could not be reached at 127.0.0.1:.*refused"):
        connect_carol(credentials)
    assert time.monotonic() - started < 10
