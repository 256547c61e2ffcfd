"""Training checkpoints: a training stopped after some epoch and fitted again with the same checkpoints goes on
from the last one and ends with the same model, bit for bit, as an uninterrupted fit; in memory and by chunks.
Synthetic data, a linear model, checkpoints in a local folder."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.storage.stores import LocalStore
from carolbatch.training.checkpoints import Checkpoints, checkpoint_name, select_checkpoints
from carolbatch.training.contract import OneStepModel
from carolbatch.training.epochs import StoppingRule
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.rows import TrainingRows, predict_rows

EPOCHS = 8
IDENTITY = "ab" * 32


class Stop(Exception):
    """Stands for the kill: raised from the progress callback after an epoch."""


def rows() -> tuple[TrainingRows, TrainingRows, TrainingRows]:
    generator = np.random.default_rng(0)
    features = generator.normal(size=(600, 3)) * [1.0, 10.0, 100.0]
    target = features @ np.array([1.0, -0.2, 0.01]) + np.sin(features[:, 0]) + generator.normal(0, 0.1, 600)
    columns = [features[:, position] for position in range(3)]
    order = generator.permutation(600)
    return tuple(TrainingRows(columns, target, part) for part in (order[:400], order[400:500], order[500:]))


def epoch_model(in_memory: bool) -> EpochModel:
    linear = SGDRegressor(random_state=3)
    # n_iter_no_change as large as the epochs: every epoch runs.
    return EpochModel(Pipeline([("scale", StandardScaler()), ("linear", linear)]), StoppingRule(EPOCHS, EPOCHS, 0.0),
                      batch_size=32, random_state=5, max_in_memory_rows=None if in_memory else 100, chunk_rows=64)


def checkpoints_in(folder, every_epochs: int = 1) -> Checkpoints:
    return Checkpoints(LocalStore(folder), checkpoint_name("", "TrainModel", IDENTITY), "TrainModel", every_epochs)


def stop_after(epoch: int):
    def on_progress(report) -> None:
        if report.epoch == epoch:
            raise Stop(f"stopped after epoch {epoch}")

    return on_progress


def saved_epoch(checkpoints: Checkpoints) -> int:
    record = json.loads(checkpoints.store.read(checkpoints.name + ".sha256"))
    return record["summary"]["epoch"]


@pytest.mark.parametrize("in_memory", [True, False], ids=["in memory", "by chunks"])
def test_a_resumed_training_ends_with_the_same_model_as_an_uninterrupted_one(tmp_path, caplog, in_memory):
    train, validation, test = rows()
    model = epoch_model(in_memory)
    uninterrupted = model.fit(train, validation)
    checkpoints = checkpoints_in(tmp_path)
    with pytest.raises(Stop):
        model.fit(train, validation, stop_after(5), checkpoints)
    # The checkpoint is kept after an epoch, once its progress is reported: the one after epoch 4 is the last.
    assert saved_epoch(checkpoints) == 4
    with caplog.at_level(logging.INFO, logger="carolbatch.training.checkpoints"):
        resumed = model.fit(train, validation, None, checkpoints)
    assert "resuming TrainModel from epoch 4 checkpoint" in caplog.text
    assert resumed.facts == uninterrupted.facts and resumed.facts["epochs_run"] == EPOCHS
    assert resumed.validation_losses == uninterrupted.validation_losses
    predicted = [predict_rows(fitted.pipeline, test.columns, test.rows) for fitted in (resumed, uninterrupted)]
    np.testing.assert_array_equal(predicted[0], predicted[1])


def test_a_resume_that_skipped_the_saved_state_would_differ(tmp_path):
    """The test above can fail: training 4 more epochs from a fresh model gives another model."""
    train, validation, test = rows()
    model = epoch_model(in_memory=False)
    full = model.fit(train, validation)
    shorter = EpochModel(model.pipeline, StoppingRule(EPOCHS - 4, EPOCHS, 0.0), batch_size=32, random_state=5,
                         max_in_memory_rows=100, chunk_rows=64).fit(train, validation)
    assert not np.array_equal(predict_rows(full.pipeline, test.columns, test.rows),
                              predict_rows(shorter.pipeline, test.columns, test.rows))


def test_checkpoints_are_kept_every_n_epochs_and_not_after_the_last(tmp_path):
    train, validation, _ = rows()
    checkpoints = checkpoints_in(tmp_path, every_epochs=3)
    with pytest.raises(Stop):
        epoch_model(True).fit(train, validation, stop_after(EPOCHS - 1), checkpoints)
    assert saved_epoch(checkpoints) == 6
    epoch_model(True).fit(train, validation, None, checkpoints)
    # Training ended at epoch 8: no checkpoint after it (the task deletes the one of epoch 6 with its output).
    assert saved_epoch(checkpoints) == 6


def test_checkpoints_are_no_closer_than_min_seconds(tmp_path, caplog):
    train, validation, _ = rows()
    now = [0.0]
    checkpoints = Checkpoints(LocalStore(tmp_path), checkpoint_name("", "TrainModel", IDENTITY), "TrainModel",
                              every_epochs=1, min_seconds=10.0, clock=lambda: now[0])

    def four_seconds_an_epoch(report) -> None:
        now[0] += 4.0

    with caplog.at_level(logging.DEBUG, logger="carolbatch.training.checkpoints"):
        epoch_model(True).fit(train, validation, four_seconds_an_epoch, checkpoints)
    kept = [int(message.split("after epoch ")[1].split(":")[0]) for message in caplog.messages
            if "checkpoint after epoch" in message]
    # 12 s after the start, then 12 s later; never after the last epoch (8).
    assert kept == [3, 6]


def test_a_checkpoint_that_does_not_verify_is_ignored_with_a_warning(tmp_path, caplog):
    train, validation, test = rows()
    model = epoch_model(in_memory=True)
    checkpoints = checkpoints_in(tmp_path)
    with pytest.raises(Stop):
        model.fit(train, validation, stop_after(3), checkpoints)
    path = tmp_path / checkpoints.name
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.INFO, logger="carolbatch.training.checkpoints"):
        fitted = model.fit(train, validation, None, checkpoints)
    assert "ignoring the TrainModel checkpoint" in caplog.text and "does not match its checksum record" in caplog.text
    assert "resuming" not in caplog.text
    np.testing.assert_array_equal(predict_rows(fitted.pipeline, test.columns, test.rows),
                                  predict_rows(model.fit(train, validation).pipeline, test.columns, test.rows))


def test_a_checkpoint_that_holds_something_else_is_ignored(tmp_path, caplog):
    train, validation, _ = rows()
    checkpoints = checkpoints_in(tmp_path)
    checkpoints.save(2, {"not": "a training"})
    with caplog.at_level(logging.WARNING):
        fitted = epoch_model(True).fit(train, validation, None, checkpoints)
    assert "ignoring the checkpoint of TrainModel" in caplog.text and fitted.facts["epochs_run"] == EPOCHS
    # Training started afresh and kept its own checkpoints in its place.
    assert saved_epoch(checkpoints) == EPOCHS - 1


def test_a_model_without_epochs_keeps_no_checkpoint(tmp_path):
    train, validation, _ = rows()
    OneStepModel(Pipeline([("linear", LinearRegression())])).fit(train, validation, None, checkpoints_in(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_names_carry_the_task_identity_and_clean_up_finds_them():
    name = checkpoint_name("pipeline/", "TrainModel", IDENTITY)
    assert name == f"pipeline/checkpoints/TrainModel.{IDENTITY}.pkl"
    names = [name, name + ".sha256", f"pipeline/TrainModel/{IDENTITY}.pkl", "pipeline/checkpoints/notes.txt",
             f"checkpoints/TrainModel.{IDENTITY}.pkl"]
    assert select_checkpoints(names, "pipeline/") == [name, name + ".sha256"]


def test_a_checkpoint_renamed_under_another_identity_is_not_resumed(tmp_path, caplog):
    train, validation, _ = rows()
    mine = checkpoints_in(tmp_path)
    with pytest.raises(Stop):
        epoch_model(True).fit(train, validation, stop_after(5), mine)
    other = Checkpoints(mine.store, checkpoint_name("", "TrainModel", "cd" * 32), "TrainModel")
    for suffix in ("", ".sha256"):
        (tmp_path / (mine.name + suffix)).rename(tmp_path / (other.name + suffix))
    with caplog.at_level(logging.WARNING, logger="carolbatch.training.checkpoints"):
        assert other.load() is None
    assert f"it was written for 'TrainModel.{IDENTITY}.pkl'" in caplog.text
    assert not (tmp_path / other.name).exists() and not (tmp_path / (other.name + ".sha256")).exists()


class FullDisk(LocalStore):
    """A store whose disk fills up when a checksum record is written."""

    def write_file(self, name, local_path):
        if name.endswith(".sha256"):
            raise OSError(28, "No space left on device")
        super().write_file(name, local_path)


def test_a_full_disk_leaves_no_checkpoint_without_its_record_and_training_goes_on(tmp_path, caplog):
    train, validation, test = rows()
    checkpoints = Checkpoints(FullDisk(tmp_path), checkpoint_name("", "TrainModel", IDENTITY), "TrainModel")
    with caplog.at_level(logging.WARNING, logger="carolbatch.training.checkpoints"):
        fitted = epoch_model(True).fit(train, validation, None, checkpoints)
    assert fitted.facts["epochs_run"] == EPOCHS
    assert "not written (OSError: [Errno 28] No space left on device)" in caplog.text
    assert not (tmp_path / checkpoints.name).exists() and checkpoints.load() is None
