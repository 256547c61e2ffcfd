"""run.py and the model registry: the report of a run, the deployment gate, `--models` and `--rollback`."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from unittest.mock import create_autospec

import matplotlib.image
import pycarol
import pytest
from PIL import Image

from app.pipeline import APP as THIS_APP
from carolbatch.control.startup import open_registry
from carolbatch.errors import AppError
from carolbatch.registry import list_versions, read_current_version
from tests.app.conftest import DEPLOY_APP
from tests.conftest import PROJECT_DIR, run_app, summary_of

APP = DEPLOY_APP


def registry(workdir):
    return workdir / "models" / APP


def current_version(workdir) -> str | None:
    pointer = registry(workdir) / "current"
    return pointer.read_text() if pointer.exists() else None


def succeed(workdir, *args) -> dict[str, str]:
    result = run_app(workdir, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return {**summary_of(result), "stdout": result.stdout, "stderr": result.stderr}


def test_run_publishes_report_then_the_gate_keeps_the_better_champion(tmp_path):
    version = succeed(tmp_path)["deployed"]
    folder = registry(tmp_path) / version
    metadata = json.loads((folder / "metadata.json").read_text())
    parts = ("train", "test", "baseline_train", "baseline_test")
    assert set(metadata["metrics"]) == {*parts, "training"}
    assert all(set(metadata["metrics"][part]) == {"mse", "mae", "rmse", "r2"} for part in parts)
    page = (folder / "report.html").read_text()
    embedded = [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    for name in ("residuals.png", "predicted_vs_true.png"):
        data = (folder / name).read_bytes()
        assert Image.open(io.BytesIO(data)).size == (640, 480)
        assert matplotlib.image.imread(folder / name).shape[:2] == (480, 640)
        assert data in embedded
    for part in ("train", "test", "baseline_train", "baseline_test"):
        assert f"{metadata['metrics'][part]['rmse']:.4f}" in page
    assert metadata["source"]["data_fingerprint"] in page

    worse = succeed(tmp_path, "--set", "model_epochs=40")
    assert (worse["ran"], worse["deployed"]) == ("3", "none")
    reason_line = worse["stdout"].strip().splitlines()[-3]
    assert reason_line.startswith("not deployed: test RMSE") and f"of deployed model {version}" in reason_line
    assert worse["stdout"].strip().splitlines()[-2].startswith(f"report: {tmp_path / 'luigi_targets'}/DeployModel/")
    assert current_version(tmp_path) == version

    strict = succeed(tmp_path, "--set", "min_test_r2=0.99")
    assert strict["deployed"] == "none"
    assert re.search(r"not deployed: test R² 0\.\d+ is below min_test_r2=0.99", strict["stdout"])
    assert current_version(tmp_path) == version
    assert [path.name for path in registry(tmp_path).iterdir() if path.is_dir()] == [version]


def test_better_model_replaces_the_champion_and_rollback_restores_it(tmp_path):
    # Capped at 40 epochs, then the defaults (early stopping ends them at 94): two models. A cap above the stop, as
    # 500 and 1000, would give the same model twice (no new version).
    older = succeed(tmp_path, "--set", "model_epochs=40")["deployed"]
    newer = succeed(tmp_path, "--set", "champion_tolerance=1000")["deployed"]
    assert newer != "none" and current_version(tmp_path) == newer

    listing = succeed(tmp_path, "--models")
    lines = listing["stdout"].splitlines()
    assert any(line.startswith(f"  {older}") for line in lines)
    assert any(line.startswith(f"* {newer}") for line in lines)
    assert "running" not in listing["stderr"] and listing["status"] == "LISTED"

    rolled = succeed(tmp_path, "--rollback")
    assert rolled["deployed"] == older and current_version(tmp_path) == older
    assert (registry(tmp_path) / "model.pkl").read_bytes() == (registry(tmp_path) / older / "model.pkl").read_bytes()
    assert any(line.startswith(f"* {older}") for line in succeed(tmp_path, "--models")["stdout"].splitlines())
    history = [json.loads(line) for line in (registry(tmp_path) / "history.jsonl").read_text().splitlines()]
    assert history[-1] | {"at": None} == {"at": None, "action": "rollback", "version": older, "previous": newer}

    assert succeed(tmp_path, "--rollback", newer)["deployed"] == newer and current_version(tmp_path) == newer


@pytest.mark.parametrize("args, words", [(["--rollback", "20990101T000000Z-nothere"], "not found"),
                                         (["--rollback"], "no model version")])
def test_rollback_errors_are_one_line_with_exit_2(tmp_path, args, words):
    result = run_app(tmp_path, *args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0]
    assert summary_of(result)["status"] == "FAILED"


def test_models_on_an_empty_registry_runs_nothing(tmp_path):
    listing = succeed(tmp_path, "--models")
    assert listing["stdout"].splitlines()[0].split()[0] == "version"
    assert not (tmp_path / "luigi_targets").exists() and not (tmp_path / "models").exists()


@pytest.fixture
def console_formatters():
    """Carol mode switches the console to JSON lines; give the other tests their formatters back."""
    handlers = logging.getLogger().handlers
    formatters = [(handler, handler.formatter) for handler in handlers]
    yield
    for handler, formatter in formatters:
        handler.setFormatter(formatter)


def test_open_registry_in_carol_mode_uses_the_deploy_app_storage(monkeypatch, fake_storages, console_formatters):
    carol_class = create_autospec(pycarol.Carol)
    carol_class.return_value.app_name = "bostonhousebatch"
    apps_class = create_autospec(pycarol.Apps)
    apps_class.return_value.get_settings.return_value = {"deploy_app": "bostononline"}
    monkeypatch.setattr(pycarol, "Carol", carol_class)
    monkeypatch.setattr(pycarol, "Apps", apps_class)
    fake_storages.objects["bostononline"] = {
        "bostononline/current": b"v1", "bostononline/v1/metadata.json": json.dumps({"version": "v1"}).encode(),
        "bostononline/v1/checksums.json": json.dumps({"files": {}}).encode()}
    environment = {"CAROLTENANT": "tenant1", "CAROLAPPNAME": "bostonhousebatch", "CAROLAPPOAUTH": "key"}

    access = open_registry(THIS_APP, PROJECT_DIR, environment, [])

    assert access.settings.deploy_app == "bostononline"
    assert read_current_version(access.store, "bostononline") == "v1"
    assert [entry["version"] for entry in list_versions(access.store, "bostononline")] == ["v1"]


def test_open_registry_rejects_bad_settings_with_exit_2():
    with pytest.raises(AppError) as raised:
        open_registry(THIS_APP, PROJECT_DIR, {}, ["champion_tolerance=-1"])
    assert raised.value.exit_code == 2 and "champion_tolerance" in str(raised.value)


def test_plan_reruns_a_refusal_once_the_champion_it_lost_to_is_rolled_back(tmp_path):
    older = succeed(tmp_path, "--set", "model_epochs=40")["deployed"]
    succeed(tmp_path, "--set", "champion_tolerance=1000")
    assert succeed(tmp_path, "--set", "model_epochs=1")["deployed"] == "none"
    assert "SKIP  DeployModel" in succeed(tmp_path, "--plan", "--set", "model_epochs=1")["stdout"]
    succeed(tmp_path, "--rollback", older)

    plan = succeed(tmp_path, "--plan", "--set", "model_epochs=1")["stdout"]
    assert re.search(r"RUN\s+DeployModel\s+deployed model changed", plan)
    rerun = succeed(tmp_path, "--set", "model_epochs=1")
    assert (rerun["ran"], rerun["reused"]) == ("1", "3")
