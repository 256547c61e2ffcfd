"""The Carol calls at pycarol's boundary: autospecced pycarol classes fail on a wrong signature."""

from __future__ import annotations

from unittest.mock import create_autospec

import pandas as pd
import pycarol
import pycarol.bigquery
import pytest

from carolbatch.storage.carol_credentials import CarolCredentials
from carolbatch.storage.carol_platform import (
    CarolUnavailableError,
    connect_carol,
    fetch_app_settings,
    open_app_storage,
    query_staging,
)
from carolbatch.storage.stores import CarolStore, read_bytes, write_bytes


def carol_double(app_name="toybatch"):
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = app_name
    return carol


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
    apps_class.return_value.get_settings.assert_called_once_with(app_name="toybatch")


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
