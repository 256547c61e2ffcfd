"""Shared fixtures: tiny frames, settings, and helpers that run the real app in a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.functions.settings import build_settings, read_settings_file

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE_DATA = PROJECT_DIR / "data" / "boston_house_prices.csv"
FEATURES = ("a", "b", "c")


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """20 records with a linear target, enough to split and train."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20, 3))
    return pd.DataFrame(
        {"id": np.arange(20), "a": features[:, 0], "b": features[:, 1], "c": features[:, 2],
         "y": features @ np.array([1.0, -2.0, 0.5]) + 3.0}
    )


def default_settings(**overrides):
    """The committed defaults with some values replaced."""
    return build_settings([("settings.toml", read_settings_file(PROJECT_DIR / "settings.toml")), ("test", overrides)])


def app_environment(workdir: Path, **extra: str) -> dict[str, str]:
    """An environment for run.py with no Carol credentials and every output inside `workdir`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CAROL", "APP_", "LONGTASKID", "CLOUD_TARGET"))}
    env.update(
        APP_DATA_PATH=str(SAMPLE_DATA),
        APP_TARGET_DIR=str(workdir / "luigi_targets"),
        APP_REGISTRY_DIR=str(workdir / "models"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run_app(workdir: Path, *args: str, env: dict[str, str] | None = None, project: Path = PROJECT_DIR,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `run.py` in a subprocess with `workdir` as its working folder."""
    return subprocess.run(
        [sys.executable, str(project / "run.py"), *args],
        cwd=workdir, env=env or app_environment(workdir), capture_output=True, text=True, timeout=timeout,
    )


def summary_of(result: subprocess.CompletedProcess) -> dict[str, str]:
    """The fields of the summary line, which must be the last line on stdout."""
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("summary: "), result.stdout + result.stderr
    return dict(field.split("=", 1) for field in last[len("summary: "):].split())
