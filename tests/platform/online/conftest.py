"""A real model registry in a temp folder, filled by the deploy step the pipeline uses."""

from __future__ import annotations

import pytest

from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.storage.stores import LocalStore
from carolbatch.online.follower import ModelFollower
from carolbatch.online.source import LocalModelSource
from tests.conftest import TINY_RANDOM_STATE, deploy_tiny, tiny_rule, train_tiny

APP = "onlineapp"


def deploy(store: LocalStore, version: str, frame, random_state: int = TINY_RANDOM_STATE) -> None:
    """Train on `frame` and publish as `version`, whatever its score."""
    trained = train_tiny(frame, 200, l2=0.0, random_state=random_state)
    thresholds = Thresholds(min_improvement_over_baseline=-1e9)  # whatever its score, the baseline too
    deploy_tiny(store, APP, version, trained, evaluate_model(trained, thresholds), frame,
                rule=tiny_rule(random_state), replace=True)


@pytest.fixture
def registry(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "models")


@pytest.fixture
def follower(registry) -> ModelFollower:
    return ModelFollower(LocalModelSource(registry.root, APP), APP, poll_seconds=0.05)
