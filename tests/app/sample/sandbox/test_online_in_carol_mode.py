"""The online app in Carol mode against the sandbox: it serves what run.py deployed to the deploy app's storage."""

from __future__ import annotations

import io
import time

import joblib
import pandas as pd
import pytest

from sandbox.storage import storage_client
from sandbox.tenant import open_tenant, write_app_settings
from tests.app.online.server_process import ServerProcess
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import SAMPLE_DATA, run_app, summary_of

BATCH_APP = "bostonhouse"
DEPLOY_APP = "bostonservingonline"
POLL_SECONDS = 1


def deploy(sandbox_process, workdir, **settings: str) -> str:
    env = carol_environment(workdir, sandbox_process.environment,
                            **{f"APP_{name.upper()}": value for name, value in settings.items()})
    result = run_app(workdir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    version = summary_of(result)["deployed"]
    assert version != "none", result.stdout
    return version


def stored_model(sandbox_process, version: str):
    """The model file of `version` as the deploy app's storage holds it, read straight from the emulator."""
    bucket = storage_client(sandbox_process.environment["STORAGE_EMULATOR_HOST"], project="sandbox").bucket(
        open_tenant(sandbox_process.folder).bucket)
    data = bucket.blob(f"carolapps/{DEPLOY_APP}/files/{DEPLOY_APP}/{version}/model.pkl").download_as_bytes()
    return joblib.load(io.BytesIO(data))


@pytest.fixture(scope="module")
def carol_server(sandbox_process, staged_records, tmp_path_factory):
    write_app_settings(sandbox_process.folder, BATCH_APP, {"model_epochs": "60", "deploy_app": DEPLOY_APP})
    # The online app runs as the deploy app and reads that app's settings (Carol sends strings).
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {"model_poll_seconds": str(POLL_SECONDS),
                                                            "deploy_app": DEPLOY_APP})
    batch_dir, online_dir = tmp_path_factory.mktemp("carol_batch"), tmp_path_factory.mktemp("carol_online")
    first = deploy(sandbox_process, batch_dir)
    env = carol_environment(online_dir, {**sandbox_process.environment, "CAROLAPPNAME": DEPLOY_APP})
    server = ServerProcess(online_dir, env)
    try:
        server.wait_ready()
        yield server, first, batch_dir
    finally:
        server.stop()


def test_serves_the_model_run_py_deployed_to_carol_storage(carol_server, sandbox_process):
    server, first, _ = carol_server
    status, model = server.get("/model")
    assert status == 200 and model["version"] == first
    features = pd.read_csv(SAMPLE_DATA)[model["feature_columns"]].head(50)
    status, answer = server.post("/predict", features.to_dict(orient="records"))
    assert status == 200 and answer["version"] == first
    expected = stored_model(sandbox_process, first).predict(features).tolist()
    assert answer["predictions"] == expected
    assert "Carol storage of app" in server.output() and '"severity"' in server.output()


def test_follows_a_new_deploy_in_carol_storage(carol_server, sandbox_process):
    server, first, batch_dir = carol_server
    second = deploy(sandbox_process, batch_dir, model_l2regularization="0.9", champion_tolerance="1000")
    assert second != first
    deadline, streak = time.monotonic() + POLL_SECONDS + 2, 0
    while streak < 6:
        assert time.monotonic() < deadline, f"still serving {server.get('/model')}: {server.output()[-3000:]}"
        streak = streak + 1 if server.get("/model")[1]["version"] == second else 0
        time.sleep(0.05)
