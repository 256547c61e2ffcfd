"""Start-up in local mode: settings of every layer, the data fingerprint, and the root task."""

from __future__ import annotations

import json

import pytest

from app.pipeline import APP
from carolbatch.control.startup import FINGERPRINT_CACHE, describe_settings, prepare_run
from carolbatch.errors import AppError
from tests.app.conftest import default_settings
from tests.conftest import APP_DATA, PROJECT_DIR


@pytest.fixture
def environ(tmp_path):
    return {"APP_DATA_PATH": str(APP_DATA), "APP_TARGET_DIR": str(tmp_path / "t"),
            "APP_REGISTRY_DIR": str(tmp_path / "m")}


def test_local_start_up_builds_the_root_with_settings_and_fingerprint(environ, tmp_path):
    plan = prepare_run(APP, PROJECT_DIR, environ, ["model_epochs=7"])
    assert not plan.carol_mode and plan.settings.model_epochs == 7
    assert plan.root.model_epochs == 7 and plan.root.data_fingerprint.startswith("file:")
    assert plan.registry_location == str(tmp_path / "m" / default_settings().deploy_app)
    cache = json.loads((tmp_path / "t" / FINGERPRINT_CACHE).read_text())
    assert plan.root.data_fingerprint == f"file:{cache[str(APP_DATA.resolve())]['sha256']}"


@pytest.mark.parametrize("assignments, extra, words", [
    (["epochs=3"], {}, "unknown setting 'epochs' (from --set)"),
    (["model_epochs=0"], {}, "model_epochs='0' (from --set)"),
    ([], {"APP_DATA_PATH": "no/such.csv"}, "not found"),
])
def test_bad_input_at_start_up_is_one_app_error_with_exit_2(environ, assignments, extra, words):
    with pytest.raises(AppError) as raised:
        prepare_run(APP, PROJECT_DIR, {**environ, **extra}, assignments)
    assert raised.value.exit_code == 2 and words in str(raised.value)


def test_unknown_app_variables_are_a_warning_and_start_up_goes_on(environ, caplog):
    plan = prepare_run(APP, PROJECT_DIR, {**environ, "APP_ENV": "prod"}, [])
    assert plan.settings.model_epochs == 1000
    assert any("does not know: APP_ENV (environment)" in record.getMessage() for record in caplog.records)


def test_describe_settings_names_each_layer(environ):
    lines = describe_settings(APP, PROJECT_DIR, {**environ, "APP_MODEL_EPOCHS": "9"}, ["test_size=0.25"])
    layers = {line.split()[0]: line.split()[-1] for line in lines}
    assert layers["model_epochs"] == "environment" and layers["test_size"] == "--set"
    assert layers["random_state"] == "default" and layers["data_path"] == "environment"
