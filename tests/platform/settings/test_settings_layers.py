from __future__ import annotations

import pytest

from carolbatch.settings import SettingsError
from carolbatch.settings.layers import (
    format_settings_sources,
    gather_layers,
    read_settings_file,
    resolve_settings,
    settings_from_environment,
)
from tests.platform.conftest import TOY_SETTINGS


def resolve(carol=None, environment=None, settings_file=None, assignments=None):
    layers, ignored = gather_layers(TOY_SETTINGS, ("settings.toml", settings_file or {}), carol or {}, environment or {},
                                    assignments or {})
    return resolve_settings(TOY_SETTINGS, layers), ignored


def test_carol_none_and_empty_values_leave_the_lower_layer_standing():
    resolved, ignored = resolve(carol={"deploy_app": None, "model_epochs": "", "test_size": "0.3"},
                                settings_file={"deploy_app": "fromfile"})
    assert resolved.settings.deploy_app == "fromfile" and resolved.sources["deploy_app"] == "settings.toml"
    assert resolved.settings.model_epochs == 1000 and resolved.sources["model_epochs"] == "default"
    assert resolved.settings.test_size == 0.3 and resolved.sources["test_size"] == "Carol app settings"
    assert ignored == []


def test_carol_values_come_as_json_lists_numbers_and_booleans():
    resolved, _ = resolve(carol={"feature_columns": '["a", "b"]', "model_epochs": 800, "float32": True,
                                 "champion_tolerance": 0})
    settings = resolved.settings
    assert settings.feature_columns == ("a", "b") and settings.model_epochs == 800
    assert settings.float32 is True and settings.champion_tolerance == 0.0


def test_unknown_carol_and_environment_names_are_listed_not_fatal():
    resolved, ignored = resolve(carol={"extra_online_setting": "x", "model_epochs": "7"},
                                environment=settings_from_environment({"APP_ENV": "prod", "APP_MODEL_EPOCHS": "9"}))
    assert ignored == ["extra_online_setting (Carol app settings)", "APP_ENV (environment)"]
    assert resolved.settings.model_epochs == 9 and resolved.sources["model_epochs"] == "environment"


@pytest.mark.parametrize("layer", ["settings_file", "assignments"])
def test_unknown_names_stay_errors_in_the_sources_the_project_owns(layer):
    with pytest.raises(SettingsError, match="unknown setting 'epochs'"):
        resolve(**{layer: {"epochs": "3"}})


def test_bad_carol_values_are_still_errors():
    with pytest.raises(SettingsError, match=r"model_epochs='abc' \(from Carol app settings\)"):
        resolve(carol={"model_epochs": "abc"})


def test_pycarol_cloud_target_variable_sets_the_cloud_target_setting():
    assert settings_from_environment({"CLOUD_TARGET": "true"}) == {"cloud_target": "true"}
    assert settings_from_environment({"CLOUD_TARGET": "true", "APP_CLOUD_TARGET": "false"}) == {"cloud_target": "false"}
    resolved, _ = resolve(environment=settings_from_environment({"CLOUD_TARGET": "false"}))
    assert resolved.settings.cloud_target is False


def test_every_setting_is_described_with_its_value_and_layer():
    resolved, _ = resolve(assignments={"model_epochs": "5"})
    lines = format_settings_sources(resolved)
    assert [line.split()[0] for line in lines] == list(TOY_SETTINGS.names)
    epochs = next(line for line in lines if line.startswith("model_epochs "))
    assert epochs.split() == ["model_epochs", "5", "--set"]
    assert next(line for line in lines if line.startswith("max_test_rmse ")).split()[1:] == ["null", "default"]


@pytest.mark.parametrize("make, problem", [
    (lambda path: path.write_bytes(bytes(range(256)) * 4), "is not UTF-8 text"),
    (lambda path: path.mkdir(), "is a directory, not a file"),
    (lambda path: path.write_text("a = [1,\n"), "is not valid TOML"),
])
def test_an_unreadable_settings_file_is_one_line_naming_the_problem(tmp_path, make, problem):
    path = tmp_path / "settings.toml"
    make(path)
    with pytest.raises(SettingsError) as raised:
        read_settings_file(path)
    message = str(raised.value)
    assert message.startswith(f"settings file {path}") and problem in message and "\n" not in message.strip()
