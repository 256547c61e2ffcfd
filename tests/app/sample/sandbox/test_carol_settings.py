"""Issue 10 point 1 through run.py against the sandbox: settings as Carol sends them, and `--settings` layers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from sandbox.tenant import DEFAULT_APPS, write_app_settings
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import run_app, summary_of

APP_NAME = "bostonhouse"
DEPLOY_APP = "bostonsettingsonline"


def console_messages(result: subprocess.CompletedProcess) -> list[str]:
    return [json.loads(line)["message"] for line in result.stderr.splitlines() if line.startswith("{")]


def shown_settings(result: subprocess.CompletedProcess) -> dict[str, tuple[object, str]]:
    """`run.py --settings` lines as {name: (value, layer)}."""
    assert result.returncode == 0, result.stderr[-3000:]
    assert summary_of(result)["status"] == "LISTED"
    shown = {}
    for line in result.stdout.splitlines()[:-1]:
        name, value, layer = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        shown[name] = (json.loads(value), layer)
    return shown


def ignored_warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [message for message in console_messages(result) if "does not know" in message]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("settings")


@pytest.fixture
def app_settings(sandbox_process):
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {})

    def write(**values):
        write_app_settings(sandbox_process.folder, APP_NAME, {"deploy_app": DEPLOY_APP, **values})
    return write


def settings_of(sandbox_process, workdir, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return run_app(workdir, "--settings", *args, env=carol_environment(workdir, sandbox_process.environment, **extra))


def test_none_and_empty_app_settings_leave_the_lower_layer_in_place(sandbox_process, workdir, app_settings):
    app_settings(model_epochs=None, test_size="", max_test_rmse=None)
    shown = shown_settings(settings_of(sandbox_process, workdir))
    assert shown["model_epochs"][1] != "Carol app settings" and shown["model_epochs"][0] != "None"
    assert shown["test_size"][1] != "Carol app settings"
    assert shown["max_test_rmse"][0] is None
    assert shown["deploy_app"] == (DEPLOY_APP, "Carol app settings")


def test_other_processes_settings_give_one_warning_and_the_run_goes_on(sandbox_process, workdir, app_settings):
    app_settings(extra_online_setting="x", online_reload_seconds="60")
    result = settings_of(sandbox_process, workdir, APP_ENV="prod")
    shown_settings(result)
    (warning,) = ignored_warnings(result)
    for name in ("extra_online_setting", "online_reload_seconds", "APP_ENV"):
        assert name in warning


def test_lists_as_json_arrays_or_text_and_numbers_as_numbers_or_text(sandbox_process, workdir, app_settings):
    app_settings(feature_columns='["CRIM", "ZN"]', model_epochs=120, test_size="0.25")
    shown = shown_settings(settings_of(sandbox_process, workdir))
    assert shown["feature_columns"] == (["CRIM", "ZN"], "Carol app settings")
    assert shown["model_epochs"] == (120, "Carol app settings")
    assert shown["test_size"] == (0.25, "Carol app settings")
    app_settings(feature_columns="CRIM, ZN")
    assert shown_settings(settings_of(sandbox_process, workdir))["feature_columns"][0] == ["CRIM", "ZN"]


def test_settings_shows_the_layer_of_each_value(sandbox_process, workdir, app_settings):
    app_settings(model_epochs="90", test_size="0.3")
    shown = shown_settings(settings_of(sandbox_process, workdir, "--set", "random_state=5", APP_TEST_SIZE="0.35"))
    assert shown["model_epochs"] == (90, "Carol app settings")
    assert shown["test_size"] == (0.35, "environment")
    assert shown["random_state"] == (5, "--set")
    assert shown["id_column"][1] in ("default", "settings.toml")


def test_a_run_with_the_settings_carol_sends_trains_and_deploys(sandbox_process, staged_records, workdir):
    values = {**DEFAULT_APPS[APP_NAME], "deploy_app": DEPLOY_APP, "model_epochs": "120",
              "feature_columns": '["CRIM", "ZN", "RM", "LSTAT"]', "test_size": None}
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {})
    write_app_settings(sandbox_process.folder, APP_NAME, values)
    result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment))

    assert result.returncode == 0, result.stderr[-3000:]
    assert summary_of(result)["deployed"] != "none"
    logged = json.loads(next(m for m in console_messages(result) if m.startswith("settings: "))[len("settings: "):])
    assert logged["feature_columns"] == ["CRIM", "ZN", "RM", "LSTAT"] and logged["deploy_app"] == DEPLOY_APP
    assert len(ignored_warnings(result)) == 1 and "online_reload_seconds" in ignored_warnings(result)[0]
