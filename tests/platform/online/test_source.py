"""Model sources: the local registry folder, and the deploy app's Carol storage opened again now and then."""

from __future__ import annotations

from unittest.mock import create_autospec

import pycarol

from carolbatch.storage.stores import CarolStore, LocalStore
from carolbatch.online.source import CarolModelSource, LocalModelSource


def carol_session(app_name: str = "toyapp"):
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = app_name
    return carol


def test_local_source_is_the_registry_folder(tmp_path):
    source = LocalModelSource(tmp_path / "models", "online")
    assert isinstance(source.store(), LocalStore) and source.store().root == tmp_path / "models"
    assert source.location == str(tmp_path / "models" / "online")


def test_carol_source_opens_the_deploy_apps_storage_and_keeps_it_until_renewed(fake_storages):
    source = CarolModelSource(carol_session(), "servingapp")
    first = source.store()
    assert isinstance(first, CarolStore) and first.app_name == "servingapp" and source.store() is first
    pycarol.Storage.assert_called_once()
    assert pycarol.Storage.call_args.args[0].app_name == "servingapp"
    source.renew()
    assert source.store() is not first


def test_carol_source_opens_a_fresh_storage_once_the_old_one_is_too_old(fake_storages):
    source = CarolModelSource(carol_session(), "servingapp", renew_seconds=0.0)
    first = source.store()
    assert source.store() is not first and pycarol.Storage.call_count == 2
