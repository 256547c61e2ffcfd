"""EpochModel: any pipeline whose last step has `partial_fit`, trained epoch by epoch with early stopping,
in memory or, on big data, chunk by chunk."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from carolbatch.training.checkpoints import Checkpoints
from carolbatch.training.contract import Fitted, ProgressCallback, validation_loss
from carolbatch.training.epochs import EpochState, StoppingRule, run_epochs
from carolbatch.training.rows import TrainingRows

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1 << 16
# Train rows a step without `partial_fit` is fitted on when training by chunks. The train rows come in a random
# order (the split shuffles them), so these are a random sample: a median, the frequent categories or a
# Yeo-Johnson lambda of 262,144 rows are those of all of them, without holding all of them as one DataFrame.
# At 1e7 records 4x the rows moved no lambda by more than 0.05 (one of -20.8 by 0.12) and cost 9.6 s against
# 1.3 s and about 570 MiB at its peak, more than anything else training holds beside the records.
PREPARE_ROWS = 1 << 18


@dataclass(frozen=True)
class EpochModel:
    """A pipeline trained epoch by epoch: its last step learns by `partial_fit`, the steps before it are
    fitted once before the first epoch; `rule` stops training on the validation loss (mean squared error; log loss
    for a classifier, whose classes are those of the train part) and the last step is kept as it was after its
    best epoch.

    Up to `max_in_memory_rows` train rows (or always, when it is None) the transformed train rows are held
    in memory. Above it, the steps before the last learn from chunks of about `chunk_rows` rows (a step without
    `partial_fit`, such as the column preparation, from a random sample of PREPARE_ROWS train rows) and every epoch fits the last step chunk by chunk in a new order, so memory
    beyond the records stays at a few chunks. Either way an epoch is one pass over the train rows.

    Attributes:
        pipeline: the unfitted pipeline; `fit` fits a clone of it, so one model can be fitted again.
        rule: when training stops.
        batch_size: the last step's mini-batch, if it has one: chunks are a whole number of batches.
        random_state: seeds the order of the rows in each chunked epoch.
        max_in_memory_rows: above this many train rows, train by chunks.
        chunk_rows: about how many rows a chunk holds.
        facts: facts about the model itself (its own settings) to keep with the training facts.
    """

    pipeline: Pipeline
    rule: StoppingRule
    batch_size: int | None = None
    random_state: int | None = None
    max_in_memory_rows: int | None = None
    chunk_rows: int = CHUNK_ROWS
    facts: Mapping[str, Any] = field(default_factory=dict)

    def fit(self, train: TrainingRows, validation: TrainingRows, on_progress: ProgressCallback | None = None,
            checkpoints: Checkpoints | None = None) -> Fitted:
        """Fit a clone of the pipeline epoch by epoch until the rule stops it; keep its best epoch.

        With `checkpoints`, training goes on from the last checkpoint there is (the same model as an
        uninterrupted fit), and keeps one as often as they ask while it goes on.

        Raises:
            ValueError: no train rows, or the last step has no `partial_fit`.
        """
        if len(train) == 0:
            raise ValueError("cannot fit a model on 0 train rows")
        if not hasattr(self.pipeline[-1], "partial_fit"):
            raise ValueError(f"{type(self.pipeline[-1]).__name__} has no partial_fit: train it with OneStepModel")
        started = time.perf_counter()
        resumed = _resume(checkpoints)
        training = resumed or Training(clone(self.pipeline), EpochState(), np.random.default_rng(self.random_state))
        pipeline, fit_epoch = training.pipeline, self._epochs(training, train, fresh=resumed is None)

        def keep_checkpoint(state: EpochState) -> None:
            if checkpoints is not None and checkpoints.due(state.epoch):
                checkpoints.save(state.epoch, training)

        # One BLAS thread: on small per-batch products more threads only wait for each other, and on a
        # shared 2-core machine they made an epoch up to 20x slower (bench/RESULTS.md, "Batch size").
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            # A last chunk smaller than one batch is a fine batch.
            warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger than sample size")
            state, reason = run_epochs(pipeline, fit_epoch, lambda: validation_loss(pipeline, validation), self.rule,
                                       on_progress,
                                       training.epochs, keep_checkpoint)
        _log_training(state, reason, len(train), time.perf_counter() - started)
        facts = {"epochs_run": state.epoch, "best_epoch": state.best_epoch,
                 "best_validation_loss": state.best_validation_loss, "stop_reason": reason, **self.facts}
        return Fitted(pipeline, facts, tuple(state.validation_losses))

    def _epochs(self, training: Training, train: TrainingRows, fresh: bool) -> Callable[[], int]:
        """One epoch of `training` over `train`, in memory or by chunks; `fresh`: nothing is fitted yet. A
        classifier's classes are those of the train part, given to every `partial_fit`."""
        labels = {"classes": np.unique(train.targets())} if is_classifier(training.pipeline) else {}
        if self.max_in_memory_rows is None or len(train) <= self.max_in_memory_rows:
            return _epochs_in_memory(training.pipeline, train, fit_before=fresh, labels=labels)
        return _epochs_in_chunks(training.pipeline, train, self._whole_batches(), training.generator, fresh, labels)

    def _whole_batches(self) -> int:
        batch = self.batch_size or 1
        return max(1, self.chunk_rows // batch) * batch


@dataclass
class Training:
    """Everything an epoch model's training needs to go on after its last epoch, as a checkpoint keeps it: the
    pipeline (its fitted steps, and the last step with its optimizer and random state), the epoch loop's state
    (with the best epoch's copy of the last step), and the generator that orders the rows of chunked epochs."""

    pipeline: Pipeline
    epochs: EpochState
    generator: np.random.Generator


def _resume(checkpoints: Checkpoints | None) -> Training | None:
    """The training kept in the last checkpoint, or None (no checkpoints, none there, or not a training)."""
    kept = checkpoints.load() if checkpoints is not None else None
    if kept is None:
        return None
    epoch, training = kept
    if not isinstance(training, Training) or training.epochs.epoch != epoch:
        logger.warning("ignoring the checkpoint of %s: it does not hold an epoch model's training", checkpoints.label)
        checkpoints.delete()
        return None
    return training


def _log_training(state: EpochState, reason: str, train_rows: int, seconds: float) -> None:
    """How training went and how fast, to the log only (with the speed as a `training_speed` extra)."""
    speed = {"rows_per_second": state.rows_per_second,
             "fastest_epoch_rows_per_second": state.fastest_rows_per_second}
    logger.info("trained on %d records for %d epochs in %.1fs, kept epoch %d (validation loss %.4f): %s; "
                "%.0f rows/s per epoch, %.0f in the fastest", train_rows, state.epoch, seconds, state.best_epoch,
                state.best_validation_loss, reason, *speed.values(), extra={"training_speed": speed})


def _steps_before_last(pipeline: Pipeline) -> Pipeline | None:
    """The pipeline's steps before its last, sharing their objects with it (None when there are none)."""
    return Pipeline(pipeline.steps[:-1]) if len(pipeline.steps) > 1 else None


def _epochs_in_memory(pipeline: Pipeline, train: TrainingRows, fit_before: bool, labels: Mapping[str, Any]
                      ) -> Callable[[], int]:
    """One epoch over the train rows held in memory, transformed once by the steps before the last (fitted
    on them first when `fit_before`; a resumed training has them fitted already)."""
    before, estimator = _steps_before_last(pipeline), pipeline[-1]
    if before is None:
        features = train.features()
    elif fit_before:
        features = before.fit_transform(train.features(), train.targets())
    else:
        features = before.transform(train.features())
    y_train = train.targets()

    def fit_epoch() -> int:
        estimator.partial_fit(features, y_train, **labels)
        return len(y_train)

    return fit_epoch


def _epochs_in_chunks(pipeline: Pipeline, train: TrainingRows, chunk_rows: int, generator: np.random.Generator,
                      fit_before: bool, labels: Mapping[str, Any]) -> Callable[[], int]:
    """One epoch over the train rows chunk by chunk, in an order drawn from `generator` (part of the training's
    state: each epoch draws the next order from it); the steps before the last learn first when `fit_before`."""
    before, estimator = _steps_before_last(pipeline), pipeline[-1]
    if before is not None and fit_before:
        _partial_fit_steps(before, train, chunk_rows)
    transform = (lambda matrix: matrix) if before is None else before.transform

    def fit_epoch() -> int:
        order = generator.permutation(train.rows)
        for start in range(0, len(order), chunk_rows):
            # Sorted rows read memory in order; the estimator shuffles each chunk itself.
            chunk = np.sort(order[start:start + chunk_rows])
            estimator.partial_fit(transform(train.features(chunk)), train.targets(chunk), **labels)
        return len(order)

    return fit_epoch


def _partial_fit_steps(steps: Pipeline, train: TrainingRows, chunk_rows: int) -> None:
    """Fit each step on the train rows, transformed by the steps before it: by `partial_fit` on chunks, or, for
    a step without it (a ColumnTransformer imputing and encoding), once on the first PREPARE_ROWS train rows."""
    for position, (name, step) in enumerate(steps.steps):
        before = steps[:position] if position else None
        if not hasattr(step, "partial_fit"):
            sample = train.rows[:PREPARE_ROWS]
            features = train.features(sample)
            step.fit(before.transform(features) if before is not None else features, train.targets(sample))
            continue
        for start in range(0, len(train), chunk_rows):
            chunk = train.features(train.rows[start:start + chunk_rows])
            step.partial_fit(before.transform(chunk) if before is not None else chunk)
