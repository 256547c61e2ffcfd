from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pipeline import APP
from carolbatch.settings import SettingsError
from carolbatch.settings.layers import build_settings as build_declared, parse_assignments, settings_from_environment
from tests.app.conftest import default_settings

DEFAULTS = APP.settings.defaults()
# The app's declared columns, whatever table it is made for.
FIRST, TARGET, KEY = DEFAULTS["feature_columns"][0], DEFAULTS["target_column"], DEFAULTS["id_column"]


def build_settings(layers):
    return build_declared(APP.settings, layers)


def test_committed_defaults_are_complete_and_valid():
    settings = default_settings()
    assert settings.model_epochs == 1000
    assert settings.model_hidden_layers == (128, 64) and settings.model_batch_size == "auto"
    assert (settings.validation_size, settings.n_iter_no_change, settings.tol) == (0.1, 10, 1e-4)
    assert settings.feature_columns and settings.target_column not in settings.feature_columns
    assert settings.max_test_rmse is None


def test_later_layers_win_and_strings_are_parsed():
    settings = build_settings([
        ("file", DEFAULTS),
        ("Carol app settings", {"model_epochs": "200", "model_l2regularization": "0.5"}),
        ("environment", {"model_epochs": "300"}),
        ("--set", {"feature_columns": "RM, LSTAT", "max_test_rmse": "4.5"}),
    ])
    assert settings.model_epochs == 300
    assert settings.model_l2regularization == 0.5
    assert settings.feature_columns == ("RM", "LSTAT")
    assert settings.max_test_rmse == 4.5


@pytest.mark.parametrize("name, value, allowed", [
    ("model_epochs", "abc", "whole number >= 1"),
    ("model_epochs", "0", "whole number >= 1"),
    ("model_epochs", "2.5", "whole number >= 1"),
    ("model_l2regularization", "-1", "number >= 0"),
    ("model_l2regularization", "nan", "number >= 0"),
    ("test_size", "1", "< 1"),
    ("feature_columns", "a,,b", "distinct, non-empty"),
    ("feature_columns", "a,a", "distinct, non-empty"),
    ("model_hidden_layers", "128,0", "layer sizes"),
    ("model_hidden_layers", "", "layer sizes"),
    ("model_hidden_layers", "128,x", "layer sizes"),
    ("model_batch_size", "big", "auto or a whole number >= 1"),
    ("model_batch_size", "0", "auto or a whole number >= 1"),
    ("validation_size", "0", "> 0"),
    ("n_iter_no_change", "0", "whole number >= 1"),
    ("tol", "-0.1", "number >= 0"),
    ("deploy_app", "  ", "a plain name"),
    ("deploy_app", "/abs/app", "a plain name"),
    ("deploy_app", "../../x", "no '..'"),
    ("deploy_app", "app/20261127T082012Z-6cc72f61", "no '/'"),
    ("min_improvement_over_baseline", "-1", "number >= 0"),
    ("random_state", "4294967296", "whole number from 0 to 4294967295"),
    ("random_state", "-1", "whole number from 0 to 4294967295"),
])
def test_bad_values_name_the_setting_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(SettingsError) as raised:
        build_settings([("file", DEFAULTS), ("--set", {name: value})])
    message = str(raised.value)
    assert f"{name}={value!r}" in message and allowed in message and "--set" in message


@pytest.mark.parametrize("columns, message", [
    ({"feature_columns": f"{FIRST},{TARGET}"}, f"feature_columns must not contain target_column '{TARGET}'"),
    ({"feature_columns": f"{FIRST},{KEY}"}, f"or id_column '{KEY}'"),
    ({"target_column": KEY}, f"target_column and id_column must name different columns (both '{KEY}')"),
    ({"categorical_columns": f"{FIRST},district"}, "categorical_columns must be among feature_columns: district is not"),
])
def test_the_row_key_target_and_features_must_be_different_columns(columns, message):
    with pytest.raises(SettingsError) as raised:
        build_settings([("file", DEFAULTS), ("--set", columns)])
    assert message in str(raised.value)


def test_categories_and_an_empty_id_column_are_settings():
    settings = build_settings([("file", DEFAULTS), ("--set", {"categorical_columns": "CHAS,RAD", "id_column": ""})])
    assert settings.categorical_columns == ("CHAS", "RAD") and settings.id_column is None
    assert build_settings([("file", DEFAULTS)]).categorical_columns == ()
    assert build_settings([("file", DEFAULTS), ("--set", {"categorical_columns": ""})]).categorical_columns == ()


def test_network_shape_and_batch_size_are_parsed_from_text():
    settings = build_settings([("file", DEFAULTS), ("Carol app settings", {
        "model_hidden_layers": " 64, 32 ,16", "model_batch_size": " 512 "})])
    assert settings.model_hidden_layers == (64, 32, 16) and settings.model_batch_size == "512"
    assert build_settings([("file", DEFAULTS), ("env", {"model_batch_size": "AUTO"})]).model_batch_size == "auto"
    assert settings.as_dict()["model_hidden_layers"] == [64, 32, 16]


def test_unknown_setting_is_an_error_naming_its_source():
    with pytest.raises(SettingsError, match=r"unknown setting 'epochs' \(from environment\)"):
        build_settings([("file", DEFAULTS), ("environment", {"epochs": "3"})])


def test_missing_setting_is_an_error():
    partial = {k: v for k, v in DEFAULTS.items() if k != "deploy_app"}
    with pytest.raises(SettingsError, match="without a value: deploy_app"):
        build_settings([("file", partial)])


def test_target_among_features_is_an_error():
    with pytest.raises(SettingsError, match="target_column"):
        build_settings([("file", DEFAULTS), ("--set", {"feature_columns": "RM,target"})])


def test_environment_takes_only_prefixed_names():
    assert settings_from_environment({"APP_MODEL_EPOCHS": "5", "MODEL_EPOCHS": "6", "PATH": "/bin"}) == {
        "model_epochs": "5"}


def test_assignments_need_a_name_and_an_equals_sign():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(SettingsError, match="NAME=VALUE"):
        parse_assignments(["model_epochs"])


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        default_settings().model_epochs = 3


@given(st.integers(min_value=1, max_value=10**9))
def test_any_positive_epoch_count_round_trips_from_text(epochs):
    assert build_settings([("file", DEFAULTS), ("Carol", {"model_epochs": f" {epochs} "})]).model_epochs == epochs


@given(st.text(max_size=12))
def test_epochs_text_is_either_a_positive_integer_or_a_settings_error(text):
    try:
        epochs = build_settings([("file", DEFAULTS), ("Carol", {"model_epochs": text})]).model_epochs
    except SettingsError as error:
        assert "model_epochs" in str(error)
    else:
        assert epochs >= 1 and int(text.strip()) == epochs


@given(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=6, unique=True))
def test_comma_separated_columns_parse_to_the_same_names(names):
    if TARGET in names or KEY in names:
        names = [name for name in names if name not in (TARGET, KEY)] or ["x"]
    settings = build_settings([("file", DEFAULTS), ("--set", {"feature_columns": ",".join(names)})])
    assert settings.feature_columns == tuple(names)
