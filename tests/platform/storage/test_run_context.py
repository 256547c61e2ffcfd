"""RunContext: the run's Carol session, BigQuery reader and the Carol storages opened once a run."""

from __future__ import annotations

from unittest.mock import create_autospec

import pycarol
import pytest

from carolbatch.storage.run_context import RunContext
from carolbatch.storage.run_scoped import RunScopedStore
from carolbatch.storage.stores import CarolStore, LocalStore


def carol(app_name: str = "batchapp"):
    session = create_autospec(pycarol.Carol, instance=True)
    session.app_name = app_name
    return session


def test_a_local_context_keeps_targets_and_registry_in_their_folders(tmp_path):
    context = RunContext()
    targets = context.target_store(False, str(tmp_path / "t"))
    registry = context.registry_store(False, str(tmp_path / "m"), "deployapp")
    assert isinstance(targets, LocalStore) and targets.root == tmp_path / "t"
    assert isinstance(registry, LocalStore) and registry.root == tmp_path / "m"


def test_a_local_context_has_no_carol_session_nor_reader():
    with pytest.raises(RuntimeError, match="without a Carol session"):
        RunContext().carol_session()
    with pytest.raises(RuntimeError, match="without a BigQuery reader"):
        RunContext().bigquery_reader()
    with pytest.raises(RuntimeError, match="without a Carol session"):
        RunContext().target_store(True, "unused")


def test_each_app_storage_is_opened_once_a_run(fake_storages):
    context = RunContext(carol=carol("batchapp"))
    targets = context.target_store(True, "unused")
    # The run's view of its targets, remembering the records it read (RunScopedStore), over the app's storage.
    assert isinstance(targets, RunScopedStore) and targets.store is context.app_store("batchapp")
    assert isinstance(targets.store, CarolStore) and targets.app_name == "batchapp"
    registry = context.registry_store(True, "unused", "deployapp")
    assert isinstance(registry, CarolStore) and registry.app_name == "deployapp"
    assert context.target_store(True, "unused") is targets
    assert context.registry_store(True, "unused", "deployapp") is registry
    assert pycarol.Storage.call_count == 2


def test_two_runs_share_no_storage(fake_storages):
    first, second = RunContext(carol=carol()), RunContext(carol=carol())
    assert first.app_store("deployapp") is not second.app_store("deployapp")
    assert first.artifact_checks is not second.artifact_checks  # nothing one run verified vouches for another
    assert pycarol.Storage.call_count == 2
