"""The app's Carol functions against an in-process sandbox: pycarol's real HTTP, OAuth, BigQuery and storage code."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
from gcp_storage_emulator.storage import _FileStore
from pycarol.carolina import Carolina

from carolbatch.records.staging_sql import build_staging_query
from carolbatch.storage.carol_credentials import credentials_from_environment
from carolbatch.storage.carol_platform import (
    CarolUnavailableError,
    check_carol_reachable,
    connect_carol,
    fetch_app_settings,
    open_app_storage,
    query_staging,
)
from carolbatch.storage.locks import LockBusyError, carol_lock, describe_holder, holder_record
from carolbatch.storage.stores import CarolStore, read_bytes, write_bytes
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


def test_each_app_has_its_own_storage(sandbox, carol):
    write_app_settings(sandbox.folder, "otherapp", {})
    own = CarolStore(open_app_storage(carol, carol.app_name), carol.app_name)
    other = CarolStore(open_app_storage(carol, "otherapp"), "otherapp")
    write_bytes(own, "pipeline/a.pkl", b"mine")
    write_bytes(other, "models/current", b"theirs")
    assert read_bytes(own, "pipeline/a.pkl") == b"mine" and not other.exists("pipeline/a.pkl")
    assert other.list_names("models/") == ["models/current"]
    other.delete("models/current")
    assert read_bytes(other, "models/current") is None


def test_an_upload_in_many_chunks_is_appended_and_arrives_whole(carol, monkeypatch):
    store = CarolStore(open_app_storage(carol, carol.app_name), carol.app_name)
    content = os.urandom((8 << 20) + 7)  # over 8 MiB: google-cloud-storage uploads it in resumable chunks
    blob = store.blob("pipeline/chunked.bin")
    blob.chunk_size = 2 << 20  # five chunks, as a 6 GB target goes in sixty of 100 MiB
    read = []
    original = _FileStore.read_bytes
    monkeypatch.setattr(_FileStore, "read_bytes", lambda self, name: read.append(name) or original(self, name))
    blob.upload_from_string(content)
    assert read_bytes(store, "pipeline/chunked.bin") == content
    # The emulator's own bookkeeping read the partial object back for every chunk: quadratic in its size.
    assert not [name for name in read if name.startswith("_resumable")]


def test_a_lock_object_refuses_a_second_holder_and_a_stale_one_is_taken_over(carol):
    store = CarolStore(open_app_storage(carol, carol.app_name), carol.app_name)
    with carol_lock(store, "locktest/.lock", "run", wait=False):
        with pytest.raises(LockBusyError, match=r"is locked by pid \d+ on .* \(run\)"):
            with carol_lock(store, "locktest/.lock", "gc", wait=False):
                pass
    assert not store.exists("locktest/.lock")  # released

    # A holder killed while holding it: its object is never refreshed again.
    store.blob("locktest/.lock").upload_from_string(holder_record("run"), if_generation_match=0)
    with pytest.raises(LockBusyError):
        with carol_lock(store, "locktest/.lock", "gc", wait=False, stale_seconds=60):
            pass
    time.sleep(2.5)
    with carol_lock(store, "locktest/.lock", "gc", wait=False, stale_seconds=2):
        assert "(gc) since" in describe_holder(read_bytes(store, "locktest/.lock"))
    assert not store.exists("locktest/.lock")


def test_clients_opened_with_the_runs_service_accounts_share_one_token(sandbox, carol, environment):
    from carolbatch.storage.carol_platform import open_bigquery
    from carolbatch.storage.service_accounts import ServiceAccounts

    write_app_settings(sandbox.folder, "otherapp", {})
    accounts = ServiceAccounts()
    own, other = open_app_storage(carol, carol.app_name, accounts), open_app_storage(carol, "otherapp", accounts)
    reader = open_bigquery(carol, environment, accounts)
    # The stand-in, like a tenant, hands out one service account for storage and BigQuery alike.
    assert own.carolina.client._credentials is other.carolina.client._credentials is reader.credentials
    token = reader.credentials.token
    write_bytes(CarolStore(other, "otherapp"), "a.txt", b"x")
    assert read_bytes(CarolStore(own, carol.app_name), "pipeline/none") is None
    assert reader.credentials.token == token  # used by both, fetched once


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


def test_reachability_needs_a_listening_server_and_a_trusted_certificate(sandbox, environment, monkeypatch):
    host = sandbox.tenant.hosts[0]
    check_carol_reachable(host, 443)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(CarolUnavailableError, match="TLS handshake failed"):
        check_carol_reachable(host, 443)


def test_connecting_to_a_closed_port_fails_in_seconds(environment, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(CarolUnavailableError, match="could not be reached at sandboxorg.carol.test:443"):
        connect_carol(credentials_from_environment(environment))
    assert time.monotonic() - started < 10


def test_the_sandbox_injects_exactly_what_carol_injects_into_a_batch_container(sandbox):
    assert set(sandbox.carol_environment()) == {
        "CAROLTENANT", "CAROLAPPNAME", "CAROLAPPOAUTH", "CAROLCONNECTORID", "CAROLORGANIZATION", "CAROL_DOMAIN",
        "LONGTASKID"}
    assert not any(name.startswith("CAROL") for name in sandbox.network_environment())


def test_pycarol_reaches_the_sandbox_at_carols_own_host_name(sandbox, environment):
    from pycarol import Carol

    carol = Carol()  # everything from the environment, as pycarol reads it
    assert (carol.host, carol.port) == (f"{environment['CAROLORGANIZATION']}.{environment['CAROL_DOMAIN']}", 443)
    assert carol.get_current()["env_name"] == sandbox.tenant.name


def test_the_proxy_tunnels_to_carols_host_names_only(environment):
    import requests

    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        requests.get("https://elsewhere.carol.test/api/v1/tenants/current", timeout=10)


def test_new_app_settings_hold_empty_settings_and_other_processes_settings(tmp_path):
    from sandbox.tenant import open_tenant, read_apps

    open_tenant(tmp_path)
    settings = read_apps(tmp_path)["bostonhouse"]
    assert None in settings.values() and "online_reload_seconds" in settings


def test_empty_settings_reach_pycarol_as_none(sandbox, carol):
    write_app_settings(sandbox.folder, "bostonhouse", {"model_epochs": None, "online_x": "1"})
    assert fetch_app_settings(carol) == {"model_epochs": None, "online_x": "1"}


def test_storage_of_an_app_the_tenant_does_not_have_is_refused(carol):
    from carolbatch.storage.stores import StorageError

    with pytest.raises(StorageError, match=r"app nosuchapp could not be opened: app nosuchapp not found .*\(HTTP 404\)"):
        open_app_storage(carol, "nosuchapp")


def test_the_task_log_can_be_told_to_fail_or_hang(sandbox, carol):
    from pycarol.tasks import Tasks

    from sandbox.tenant import set_fault

    tasks = Tasks(carol)
    tasks.task_id = "t-fault"
    try:
        set_fault(sandbox.folder, "task_logs", "500")
        with pytest.raises(Exception, match="500"):
            carol.call_api("v1/tasks/t-fault/logs", data=[{"mdmLogMessage": "x"}], retries=0, status_forcelist=())
        set_fault(sandbox.folder, "task_logs", "hang")
        started = time.monotonic()
        with pytest.raises(Exception, match="timed out"):
            carol.call_api("v1/tasks/t-fault/logs", data=[{"mdmLogMessage": "x"}], retries=0, timeout=1)
        assert time.monotonic() - started < 5
    finally:
        set_fault(sandbox.folder, "task_logs", "ok")
    tasks.add_log("after", log_level="INFO")
    assert [entry["mdmLogMessage"] for entry in read_task_log(sandbox.folder, "t-fault")] == ["after"]
