"""The Carol calls at pycarol's boundary: autospecced pycarol classes fail on a wrong signature."""

from __future__ import annotations

from unittest.mock import create_autospec

import pandas as pd
import pycarol
import pycarol.bigquery
import pytest

from app.functions.storage.carol_platform import (
    CarolCredentials,
    CarolCredentialsError,
    CarolUnavailableError,
    connect_carol,
    credentials_from_environment,
    fetch_app_settings,
    open_app_storage,
    query_staging,
)
from app.functions.storage.stores import CarolStore, read_bytes, write_bytes


def carol_double(app_name="bostonhousebatch"):
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = app_name
    return carol


BATCH_CONTAINER = {"CAROLTENANT": "tenant1", "CAROLAPPNAME": "app1", "CAROLAPPOAUTH": "key",
                   "CAROLCONNECTORID": "c1", "CAROLORGANIZATION": "org1", "CAROL_DOMAIN": "karol.ai",
                   "LONGTASKID": "task1"}


def test_no_carol_variable_means_local_mode():
    assert credentials_from_environment({"CAROLCONNECTORID": "c1", "CAROL_DOMAIN": "carol.ai", "HOME": "/"}) is None


def test_credentials_are_read_as_pycarol_reads_them():
    credentials = credentials_from_environment(BATCH_CONTAINER)
    assert credentials == CarolCredentials(tenant="tenant1", app_name="app1", api_key="key", connector_id="c1",
                                           organization="org1", domain="karol.ai")
    assert "key" not in repr(credentials)
    defaults = credentials_from_environment({**BATCH_CONTAINER, "CAROLORGANIZATION": "", "CAROL_DOMAIN": ""})
    assert (defaults.organization, defaults.domain) == (None, "carol.ai")


@pytest.mark.parametrize(("missing", "named"), [
    ("CAROLTENANT", "CAROLTENANT"), ("CAROLAPPNAME", "CAROLAPPNAME"), ("CAROLAPPOAUTH", "CAROLAPPOAUTH")])
def test_a_partial_carol_environment_names_what_is_missing(missing, named):
    environ = {name: value for name, value in BATCH_CONTAINER.items() if name != missing}
    with pytest.raises(CarolCredentialsError, match=f"Carol login incomplete: {named} missing"):
        credentials_from_environment(environ)
    with pytest.raises(CarolCredentialsError, match=f"{named} missing"):
        credentials_from_environment({**environ, missing: ""})  # empty is missing, as for pycarol


@pytest.mark.parametrize("variable", ["CAROLTENANT", "CAROLAPPNAME", "CAROLAPPOAUTH", "CAROLUSER", "LONGTASKID"])
def test_any_one_carol_variable_alone_is_an_incomplete_login_not_local_mode(variable):
    with pytest.raises(CarolCredentialsError, match=f"found {variable}"):
        credentials_from_environment({variable: "x"})


def test_a_user_login_needs_its_password_unless_an_api_key_is_there():
    user_only = {**BATCH_CONTAINER, "CAROLUSER": "u@x"}
    del user_only["CAROLAPPOAUTH"]
    with pytest.raises(CarolCredentialsError, match=r"CAROLPWD \(or CAROLAPPOAUTH\) missing"):
        credentials_from_environment(user_only)
    assert credentials_from_environment({**user_only, "CAROLPWD": "p"}).user == "u@x"
    assert credentials_from_environment({**BATCH_CONTAINER, "CAROLUSER": "u@x"}).api_key == "key"


def test_connect_passes_the_login_to_carol(monkeypatch):
    carol_class = create_autospec(pycarol.Carol)
    monkeypatch.setattr(pycarol, "Carol", carol_class)
    connect_carol(CarolCredentials(tenant="t1", app_name="a1", user="u", password="p", api_key="k"))
    kwargs = carol_class.call_args.kwargs
    assert kwargs["domain"] == "t1" and kwargs["app_name"] == "a1" and kwargs["environment"] == "carol.ai"
    assert isinstance(kwargs["auth"], pycarol.PwdAuth)


def test_connect_failure_becomes_carol_unavailable(monkeypatch):
    carol_class = create_autospec(pycarol.Carol, side_effect=ConnectionError("refused"))
    monkeypatch.setattr(pycarol, "Carol", carol_class)
    with pytest.raises(CarolUnavailableError, match="Carol could not be reached"):
        connect_carol(CarolCredentials(tenant="t1", app_name="a1", api_key="k", connector_id="c"))


def test_app_settings_come_from_apps_get_settings(monkeypatch):
    apps_class = create_autospec(pycarol.Apps)
    apps_class.return_value.get_settings.return_value = {"model_epochs": "200"}
    monkeypatch.setattr(pycarol, "Apps", apps_class)
    carol = carol_double()
    assert fetch_app_settings(carol) == {"model_epochs": "200"}
    apps_class.assert_called_once_with(carol)
    apps_class.return_value.get_settings.assert_called_once_with(app_name="bostonhousebatch")


def test_staging_query_goes_through_bq(monkeypatch):
    bq_class = create_autospec(pycarol.bigquery.BQ)
    bq_class.return_value.query.return_value = pd.DataFrame({"a": [1]})
    monkeypatch.setattr(pycarol.bigquery, "BQ", bq_class)
    frame = query_staging(carol_double(), "SELECT 1")
    assert frame["a"].tolist() == [1]
    bq_class.return_value.query.assert_called_once_with("SELECT 1")


def test_storage_of_another_app_uses_that_app_name(fake_storages):
    carol = carol_double("batchapp")
    store = CarolStore(open_app_storage(carol, "onlineapp"), "onlineapp")
    write_bytes(store, "models/current", b"v1")
    assert fake_storages.objects == {"onlineapp": {"models/current": b"v1"}}
    assert carol.app_name == "batchapp"
    assert read_bytes(store, "models/current") == b"v1"
    assert store.exists("models/current") and store.list_names("models/") == ["models/current"]
    store.delete("models/current")
    assert read_bytes(store, "models/current") is None
