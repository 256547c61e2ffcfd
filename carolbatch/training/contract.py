"""The model contract: what the platform trains through, whatever model the app builds.

The app builds a `Model`; the platform calls its `fit` with the train rows, the validation rows and a
progress callback, and gets back a `Fitted`: a fitted scikit-learn `Pipeline` that holds everything
needed at prediction time (scaling, encoding, derived features), so that the gate, the report and the
online app score it the same way, and the facts of training for the report and the run record.

Two implementations come with the platform: `EpochModel` (carolbatch/training/partial_fit.py) trains
any pipeline whose last step has `partial_fit` epoch by epoch with early stopping; `OneStepModel` fits
any pipeline once, for estimators without epochs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from carolbatch.training.checkpoints import Checkpoints
from carolbatch.training.rows import TrainingRows, mean_squared_error, predict_probabilities, predict_rows

logger = logging.getLogger(__name__)


class ProgressReport(Protocol):
    """What a progress callback gets: how far training is, and a line saying where it stands."""

    @property
    def percent(self) -> float: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Step:
    """Progress of a model trained in steps other than epochs (one step for a single `fit`)."""

    step: int
    steps: int
    message: str

    @property
    def percent(self) -> float:
        return 100.0 * self.step / self.steps

    def describe(self) -> str:
        return f"step {self.step} of {self.steps}: {self.message}"


@dataclass(frozen=True)
class Fitted:
    """What a model's `fit` gives back.

    Attributes:
        pipeline: the fitted pipeline, complete for prediction.
        facts: reproducible, JSON-friendly facts of training (no timings: a rerun writes the same bytes),
            kept with the model's metrics, in the report and in the run record. Epoch models give
            `epochs_run`, `best_epoch`, `best_validation_loss` and `stop_reason`; others give no epoch facts.
        validation_losses: the validation loss after each epoch; empty for a model without epochs.
    """

    pipeline: Pipeline
    facts: Mapping[str, Any] = field(default_factory=dict)
    validation_losses: tuple[float, ...] = ()


ProgressCallback = Callable[[ProgressReport], None]


class Model(Protocol):
    """A model the platform can train: the app's model module builds one. Its `pipeline` (unfitted) tells the kind
    of problem: a classifier's last step makes it a classifier (scikit-learn's `is_classifier`)."""

    pipeline: Pipeline

    def fit(self, train: TrainingRows, validation: TrainingRows, on_progress: ProgressCallback | None = None,
            checkpoints: Checkpoints | None = None) -> Fitted:
        """Fit on `train` (`validation` may steer training, e.g. stop it early); never sees the test rows.

        A model trained in epochs goes on from the last of `checkpoints` there is and keeps them as it trains,
        so a run after a kill ends with the same model; a model without epochs ignores them.
        """
        ...


@dataclass(frozen=True)
class OneStepModel:
    """A pipeline fitted once on all the train rows in memory: estimators without epochs (no `partial_fit`).

    Attributes:
        pipeline: the unfitted pipeline; `fit` fits a clone of it, so one model can be fitted again.
        facts: facts about the model itself (its own settings) to keep with the training facts.
    """

    pipeline: Pipeline
    facts: Mapping[str, Any] = field(default_factory=dict)

    def fit(self, train: TrainingRows, validation: TrainingRows, on_progress: ProgressCallback | None = None,
            checkpoints: Checkpoints | None = None) -> Fitted:
        """Fit the pipeline in one step and measure its loss on the validation rows (no epochs, no checkpoints).

        Raises:
            ValueError: there are no train rows (or the estimator refuses them).
        """
        if len(train) == 0:
            raise ValueError("cannot fit a model on 0 train rows")
        pipeline = clone(self.pipeline)
        pipeline.fit(train.features(), train.targets())
        loss = validation_loss(pipeline, validation)
        if on_progress is not None:
            on_progress(Step(1, 1, f"fitted (validation loss {loss:.4f})"))
        logger.info("fitted on %d records in one step (validation loss %.4f)", len(train), loss)
        return Fitted(pipeline, {"validation_loss": loss, **self.facts})


def validation_loss(pipeline: Pipeline, validation: TrainingRows) -> float:
    """How far a fitted model is off on the validation rows: mean squared error for a regressor, log loss of the
    class probabilities for a classifier (NaN when they are not finite)."""
    if not is_classifier(pipeline):
        return mean_squared_error(validation.targets(), predict_rows(pipeline, validation.columns, validation.rows))
    probabilities = predict_probabilities(pipeline, validation.columns, validation.rows)
    if not np.isfinite(probabilities).all():
        return math.nan
    return float(log_loss(validation.targets(), probabilities, labels=list(pipeline.classes_)))


def describe_training(facts: Mapping[str, Any]) -> str:
    """One line on how training ended, from its facts."""
    if "epochs_run" in facts:
        return (f"stopped after epoch {facts['epochs_run']}, kept epoch {facts['best_epoch']} (validation loss "
                f"{facts['best_validation_loss']:.4f}): {facts['stop_reason']}")
    return f"fitted in one step (validation loss {facts.get('validation_loss', float('nan')):.4f})"
