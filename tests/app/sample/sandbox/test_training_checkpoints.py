"""Training checkpoints in the app's Carol storage (the sandbox's, through pycarol's real storage code): a
training stopped after an epoch goes on from its checkpoint there and ends with the uninterrupted model."""

from __future__ import annotations

import numpy as np
import pytest
from pycarol.carolina import Carolina

from carolbatch.storage.carol_credentials import credentials_from_environment
from carolbatch.storage.carol_platform import connect_carol, open_app_storage
from carolbatch.storage.stores import CarolStore, read_bytes
from carolbatch.training.checkpoints import Checkpoints, checkpoint_name
from carolbatch.training.rows import predict_rows
from sandbox.server import start_sandbox
from tests.platform.training.test_checkpoints import IDENTITY, Stop, epoch_model, rows, stop_after


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(tmp_path_factory.mktemp("checkpoints"))
    yield running
    running.stop()


@pytest.fixture
def store(sandbox, monkeypatch) -> CarolStore:
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Carolina, "token", None)
    carol = connect_carol(credentials_from_environment(sandbox.environment()))
    return CarolStore(open_app_storage(carol, carol.app_name), carol.app_name)


@pytest.mark.parametrize("in_memory", [True, False], ids=["in memory", "by chunks"])
def test_a_training_resumes_from_its_checkpoint_in_carol_storage(store, caplog, in_memory):
    train, validation, test = rows()
    model = epoch_model(in_memory)
    checkpoints = Checkpoints(store, checkpoint_name("pipeline/", "TrainModel", IDENTITY), "TrainModel")
    with pytest.raises(Stop):
        model.fit(train, validation, stop_after(3), checkpoints)
    assert store.list_names("pipeline/checkpoints/") == [checkpoints.name, checkpoints.name + ".sha256"]
    with caplog.at_level("INFO", logger="carolbatch.training.checkpoints"):
        resumed = model.fit(train, validation, None, checkpoints)
    assert "resuming TrainModel from epoch 2 checkpoint (Carol storage of app" in caplog.text
    uninterrupted = model.fit(train, validation)
    np.testing.assert_array_equal(predict_rows(resumed.pipeline, test.columns, test.rows),
                                  predict_rows(uninterrupted.pipeline, test.columns, test.rows))
    checkpoints.delete()
    assert store.list_names("pipeline/checkpoints/") == [] and read_bytes(store, checkpoints.name) is None
