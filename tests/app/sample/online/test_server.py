"""The online app under real gunicorn on a loopback port, following a registry that run.py deploys to."""

from __future__ import annotations

import copy
import http.client
import json
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from carolbatch.training.split import identity_rule, split_by_identity
from carolbatch.registry import (
    load_current,
    load_current_model,
    publish_model,
    read_current_version,
    rollback_model,
)
from carolbatch.storage.stores import LocalStore
from tests.app.online.server_process import ServerProcess, online_environment
from tests.conftest import PROJECT_DIR, SAMPLE_DATA, app_environment, run_app, summary_of

APP = "bostonhouseonline"
POLL_SECONDS = 1.0
FOLLOW_SECONDS = POLL_SECONDS + 2  # the acceptance bound: model_poll_seconds + 2 s
TRAIN = ("--set", "model_epochs=60")


def deploy(workdir, *args: str) -> str:
    result = run_app(workdir, *TRAIN, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    version = summary_of(result)["deployed"]
    assert version != "none", result.stdout
    return version


def wait_for_version(server: ServerProcess, version: str) -> float:
    """Seconds until /model reports `version` on several requests in a row (each worker follows alone)."""
    started, streak = time.monotonic(), 0

    def seen(status, answer) -> bool:
        nonlocal streak
        streak = streak + 1 if status == 200 and answer["version"] == version else 0
        return streak >= 6

    server.wait_until(seen, FOLLOW_SECONDS, path="/model")
    return time.monotonic() - started


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("online")


@pytest.fixture(scope="module")
def first_version(workdir) -> str:
    return deploy(workdir)


@pytest.fixture(scope="module")
def server(workdir, first_version):
    process = ServerProcess(workdir, online_environment(workdir, model_poll_seconds=str(POLL_SECONDS)))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_predictions_on_the_test_records_equal_the_current_models(server, workdir, first_version):
    frame = pd.read_csv(SAMPLE_DATA)
    columns = server.get("/model")[1]["feature_columns"]
    test_rows = split_by_identity(frame, identity_rule("sample", (), 1, 0.2, 0.1)).test_rows  # the default split
    features = frame.iloc[test_rows][columns]
    status, answer = server.post("/predict", features.to_dict(orient="records"))
    model = load_current_model(LocalStore(workdir / "models"), APP)
    assert status == 200 and answer["version"] == first_version
    assert answer["predictions"] == model.predict(features).tolist()


def test_a_new_deploy_and_a_rollback_are_served_within_the_poll_interval(server, workdir, first_version):
    second = deploy(workdir, "--set", "model_epochs=40", "--set", "champion_tolerance=1000")
    wait_for_version(server, second)
    result = run_app(workdir, "--rollback")
    assert result.returncode == 0 and summary_of(result)["deployed"] == first_version, result.stderr[-2000:]
    wait_for_version(server, first_version)


def test_a_corrupt_new_version_is_refused_and_the_old_one_keeps_serving(server, workdir, first_version):
    store = LocalStore(workdir / "models")
    served = load_current(store, APP)
    corrupt = "99990101T000000Z-corrupt"
    # Not the model its metadata describes (its network's output bias moved): it loads, then fails its check
    # record. (Damaged bytes are refused too, see tests/platform/online/test_follower.py; here they could be served
    # before the damage.)
    damaged = copy.deepcopy(served.model)
    damaged[-1].regressor_.intercepts_[-1] += 100.0
    publish_model(store, APP, corrupt, damaged, {**served.metadata, "version": corrupt})
    time.sleep(FOLLOW_SECONDS)
    check = served.metadata["check_record"]
    for _ in range(6):
        assert server.get("/model")[1]["version"] == served.version
        assert server.post("/predict", check["features"])[1]["predictions"] == [check["prediction"]]
    refusals = [line for line in server.output().splitlines() if corrupt in line]
    assert 1 <= len(refusals) <= 2, refusals  # once per worker, not once per poll
    assert all(json.loads(line)["severity"] == "ERROR" for line in refusals)
    rollback_model(store, APP, served.version)


@pytest.mark.parametrize("payload, field", [
    (b"not json", None),
    ({"CRIM": 0.1}, "ZN"),
    ([{"x": 1}], "CRIM"),
])
def test_bad_requests_through_gunicorn_get_400_naming_the_field(server, payload, field):
    status, answer = server.post("/predict", payload)
    assert status == 400 and answer["field"] == field and answer["error"]


def test_every_log_line_is_json(server):
    lines = [line for line in server.output().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["severity"] for line in lines)


def test_without_a_model_health_is_503_until_one_is_deployed(workdir, first_version, tmp_path):
    empty = ServerProcess(tmp_path, online_environment(tmp_path, model_poll_seconds=str(POLL_SECONDS)))
    try:
        status, answer = empty.wait_until(lambda status, _: status == 503, 60)
        assert "no model deployed yet" in answer["error"]
        shutil.copytree(workdir / "models", tmp_path / "models")
        wait_for_version(empty, read_current_version(LocalStore(tmp_path / "models"), APP))
    finally:
        empty.stop()
    assert empty.process.returncode == 0
    assert "SIGABRT" not in empty.output() and "terminate called" not in empty.output()  # workers ended cleanly


def test_bad_settings_stop_the_server_with_one_line_and_exit_2(tmp_path):
    env = online_environment(tmp_path, model_poll_seconds="soon")
    result = subprocess.run([sys.executable, "-m", "online", "--bind", "127.0.0.1:0"], cwd=PROJECT_DIR,
                            env={**env, "PYTHONPATH": str(PROJECT_DIR)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: setting model_poll_seconds='soon'")


def test_metrics_scrape_through_gunicorn_sums_every_worker(server, workdir):
    columns = server.get("/model")[1]["feature_columns"]
    record = pd.read_csv(SAMPLE_DATA)[columns].iloc[0].to_dict()
    before = scrape(server)
    for _ in range(20):  # new connections: the two workers share them
        assert server.post("/predict", record)[0] == 200
    assert server.post("/predict", {**record, columns[0]: 1.7e308})[0] == 422
    after = scrape(server)
    assert after['online_requests_total{route="/predict",status="200"}'] - before.get(
        'online_requests_total{route="/predict",status="200"}', 0) == 20
    assert after[f'online_absurd_values_refused_total{{field="{columns[0]}"}}'] >= 1
    assert after["online_records_predicted_total"] >= 20 and after["online_model_age_seconds"] >= 0
    assert any(name.startswith("online_model_version{") and value == 1 for name, value in after.items())


def scrape(server: ServerProcess) -> dict[str, float]:
    """The samples of GET /metrics (Prometheus text format) by name and labels."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/plain")
        lines = response.read().decode().splitlines()
    finally:
        connection.close()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line and line[0] != "#"}
