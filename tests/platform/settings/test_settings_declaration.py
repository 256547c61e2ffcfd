"""A settings declaration: the platform's settings and an app's, combined once, with the app's defaults."""

from __future__ import annotations

import pickle

import pytest

from carolbatch.settings import NO_DEFAULT, PLATFORM_SETTINGS, Setting, SettingsError, declare_settings
from carolbatch.settings.doc import format_settings_table
from carolbatch.settings.kinds import Whole
from carolbatch.settings.layers import build_settings

KNOB = Setting("knob", Whole(1), 3, "an app's own setting")
APP_DEFAULTS = {"input_connector": "c", "input_staging": "s", "data_path": "d.csv", "feature_columns": ("x",),
                "target_column": "y", "id_column": "id", "deploy_app": "online"}


def test_the_platform_leaves_what_only_an_app_knows_without_a_default():
    platform = declare_settings(PLATFORM_SETTINGS)
    assert {"feature_columns", "target_column", "id_column", "data_path", "deploy_app"} <= {
        setting.name for setting in platform.settings if setting.default is NO_DEFAULT}
    assert "feature_columns" not in platform.defaults() and platform.defaults()["target_dir"] == "luigi_targets"
    with pytest.raises(SettingsError, match="settings without a value: .*feature_columns"):
        build_settings(platform, [("default", platform.defaults())])
    assert "| `feature_columns` | list | empty |" in format_settings_table(platform)


def test_an_app_adds_its_settings_and_supplies_the_missing_defaults():
    declaration = declare_settings(PLATFORM_SETTINGS, [KNOB], defaults=APP_DEFAULTS)
    settings = build_settings(declaration, [("default", declaration.defaults()), ("--set", {"knob": "7"})])
    assert settings.knob == 7 and settings.feature_columns == ("x",) and settings.test_size == 0.2
    assert declaration.names[-1] == "knob" and declaration["knob"] is KNOB
    with pytest.raises(SettingsError, match="unknown setting 'nope' \\(from --set\\)"):
        build_settings(declaration, [("default", declaration.defaults()), ("--set", {"nope": "1"})])


@pytest.mark.parametrize("groups, defaults, words", [
    ((PLATFORM_SETTINGS, [Setting("test_size", Whole(1), 1, "again")]), {}, "declared twice: ['test_size']"),
    ((PLATFORM_SETTINGS,), {"feature_colums": ("x",)}, "undeclared settings: ['feature_colums']"),
])
def test_a_name_declared_twice_or_a_default_of_nothing_is_refused(groups, defaults, words):
    with pytest.raises(ValueError) as error:
        declare_settings(*groups, defaults=defaults)
    assert words in str(error.value)


def test_the_settings_object_is_frozen_and_survives_pickling():
    declaration = declare_settings(PLATFORM_SETTINGS, [KNOB], defaults=APP_DEFAULTS)
    settings = build_settings(declaration, [("default", declaration.defaults())])
    with pytest.raises(AttributeError):
        settings.knob = 5
    copy = pickle.loads(pickle.dumps(settings))
    assert copy == settings and type(copy) is type(settings) and copy.as_dict() == settings.as_dict()
