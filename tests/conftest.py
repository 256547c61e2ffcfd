"""Shared fixtures: a tiny frame and a trivial model trained on it, Carol storage doubles, and helpers that run
the real app (run.py) in a temp folder. Nothing here imports app/ (tests/app/conftest.py has what does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from carolbatch.training.epochs import StoppingRule, choose_batch_size
from carolbatch.training.fitting import TrainedModel, train_model
from carolbatch.training.partial_fit import EpochModel
from carolbatch.training.split import SplitRule, identity_rule, split_by_identity

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE_DATA = PROJECT_DIR / "data" / "boston_house_prices.csv"
# What a copy of the project leaves out: outputs, caches, the venv, history and the benchmarks (whose gitignored
# data reach tens of GB), none of which a test of a copy reads or edits.
LEFT_OUT = (".venv", ".tmp", "sandbox_data", "luigi_targets", "models", ".git", "bench", "__pycache__",
            ".pytest_cache", ".hypothesis", "*.egg-info", "build")


def copy_project(destination: Path) -> Path:
    """A copy of the project at `destination`, without outputs or caches."""
    shutil.copytree(PROJECT_DIR, destination, ignore=shutil.ignore_patterns(*LEFT_OUT))
    return destination


def sample_fingerprint() -> str:
    """The fingerprint start-up gives the sample data (ingestion checks the bytes it reads against it)."""
    from carolbatch.identity import fingerprint_file

    return f"file:{fingerprint_file(SAMPLE_DATA)}"
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


# A salt whose split of `tiny_frame` lets the tiny model learn within 200 epochs (20 records split any
# way leave a few test records: some splits are hard).
TINY_RANDOM_STATE = 4


def tiny_rule(random_state: int = TINY_RANDOM_STATE, test_size: float = 0.25, features=FEATURES) -> SplitRule:
    """The split by identity of tiny frames (key `id`); 0.3 of the rest validates, so no part is empty."""
    return identity_rule("id", (*features, "y"), random_state, test_size, 0.3)


def train_tiny(frame: pd.DataFrame, epochs: int, l2: float = 0.001, random_state: int = TINY_RANDOM_STATE,
               test_size: float = 0.25) -> TrainedModel:
    """A linear model (scaled, SGD) fitted to `frame` (features FEATURES, target `y`) for exactly `epochs` epochs.

    Any model with `partial_fit` does for the platform's tests; a linear one fits tiny_frame's linear target.
    """
    split = split_by_identity(frame, tiny_rule(random_state, test_size))
    batch_size = choose_batch_size("auto", len(split.train_rows))
    linear = SGDRegressor(alpha=l2, random_state=random_state)
    model = EpochModel(Pipeline([("scale", StandardScaler()), ("linear", linear)]), StoppingRule(epochs, epochs, 0.0),
                       batch_size=batch_size, random_state=random_state, facts={"batch_size": batch_size})
    return train_model(frame, FEATURES, "y", split, model)


def configured_data(project: Path = PROJECT_DIR) -> Path:
    """The data file the project runs on: its settings.toml's `data_path` (relative to the project), else the
    bundled sample (the app's default). A copy pointed at its own table runs the app's tests on that table."""
    settings = tomllib.loads((project / "settings.toml").read_text())
    return project / settings["data_path"] if "data_path" in settings else SAMPLE_DATA


APP_DATA = configured_data()


def app_fingerprint() -> str:
    """The fingerprint start-up gives the project's data (`APP_DATA`; ingestion checks the bytes it reads against it)."""
    from carolbatch.identity import fingerprint_file

    return f"file:{fingerprint_file(APP_DATA)}"


def app_environment(workdir: Path, **extra: str) -> dict[str, str]:
    """An environment for run.py with no Carol credentials, the project's data (`configured_data`) and every output
    inside `workdir`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CAROL", "APP_", "LONGTASKID", "CLOUD_TARGET"))}
    env.update(
        APP_DATA_PATH=str(configured_data()),
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


class FakeCarolStorages:
    """Autospecced `pycarol.Storage` instances, one per Carol app, keeping their objects in memory.

    Every call goes through `create_autospec` of the real class, so a call that does not match
    pycarol's signatures fails the test.
    """

    def __init__(self, download_dir: Path) -> None:
        from pycarol import Storage

        self.storage_class = Storage
        self.download_dir = download_dir
        self.objects: dict[str, dict[str, bytes]] = {}
        self.generations: dict[str, dict[str, int]] = {}
        self.read_names: list[str] = []  # objects read whole through the bucket, in order

    def __call__(self, carol):
        from unittest.mock import create_autospec

        app_objects = self.objects.setdefault(carol.app_name, {})
        storage = create_autospec(self.storage_class, instance=True)
        generations = self.generations.setdefault(carol.app_name, {})

        def save(name, obj, format="pickle", **_):
            app_objects[name] = Path(obj).read_bytes()
            generations[name] = generations.get(name, 0) + 1  # every upload gets a new generation

        storage.save.side_effect = save
        storage.load.side_effect = lambda name, format="pickle", **_: self._download(app_objects, name)
        storage.exists.side_effect = lambda name, **_: name in app_objects
        storage.delete.side_effect = lambda name: app_objects.pop(name, None)
        storage.files_storage_list.side_effect = lambda prefix="pipeline/", **_: [
            name for name in app_objects if name.startswith(prefix)]
        # What CarolStore takes from pycarol's backend (metadata, one-request reads): the app's bucket and
        # its path prefix, with google-cloud-storage's blob calls it uses.
        bucket = SimpleNamespace(get_blob=lambda name: None if name not in app_objects else SimpleNamespace(
            size=len(app_objects[name]), generation=generations[name]))
        bucket.blob = lambda name: SimpleNamespace(bucket=bucket, name=name,
                                                   download_as_bytes=lambda: self._read(app_objects, name))
        storage.backend = SimpleNamespace(_get_app_storage_bucket=lambda: bucket,
                                          carolina=SimpleNamespace(get_path=lambda space, _: ""))
        return storage

    def _read(self, app_objects: dict[str, bytes], name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        self.read_names.append(name)
        if name not in app_objects:
            raise NotFound(f"No such object: {name}")
        return app_objects[name]

    def _download(self, app_objects: dict[str, bytes], name: str) -> str | None:
        if name not in app_objects:
            return None
        path = self.download_dir / name.replace("/", "-")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(app_objects[name])
        return str(path)


@pytest.fixture
def fake_storages(tmp_path, monkeypatch) -> FakeCarolStorages:
    """Patch `pycarol.Storage` with per-app in-memory autospecced storages."""
    from unittest.mock import create_autospec

    import pycarol

    from carolbatch.storage.service_accounts import ServiceAccounts

    storages = FakeCarolStorages(tmp_path / "downloads")
    storage_class = create_autospec(pycarol.Storage, side_effect=storages)
    monkeypatch.setattr(pycarol, "Storage", storage_class)
    # These storages have no Google client to share credentials with (tests/app/sample/sandbox share them for real).
    monkeypatch.setattr(ServiceAccounts, "share_with_storage", lambda accounts, storage: None)
    return storages


def sample_columns_query(sql: str) -> pd.DataFrame | None:
    """The staging table's column names (an empty frame of the sample) for the columns query; None for others."""
    return pd.read_csv(SAMPLE_DATA).head(0) if sql.endswith("LIMIT 0") else None


def sample_query_stream(sql: str):
    """The bundled sample as a BigQuery result stream (id int64, numbers float64), as the staging query gives it."""
    import pyarrow as pa

    from carolbatch.storage.bigquery_reader import QueryStream

    frame = pd.read_csv(SAMPLE_DATA)
    table = pa.Table.from_pandas(frame.astype({name: "float64" for name in frame.columns[1:]}), preserve_index=False)
    return QueryStream(table.num_rows, table.schema, iter(table.to_batches(max_chunksize=100)), "test")


def deploy_tiny(store, app: str, version: str, trained: TrainedModel, evaluation, frame: pd.DataFrame,
                tolerance: float = 0.0, rule: SplitRule | None = None, replace: bool = False, min_records: int = 1,
                settings: dict | None = None):
    """The pipeline's deploy step on a tiny frame: gate on the common test records (at least `min_records`),
    report rendered, a refusal's report under `refused/` in `store`."""
    from functools import partial

    from carolbatch.deployment import DecisionReport, deploy_challenger
    from carolbatch.gate import GateRules
    from carolbatch.records.sources import Records
    from carolbatch.report import render_decision_report

    records = Records(frame, "tiny")
    rules = GateRules("y", tolerance, rule or tiny_rule(), replace, min_records)
    report = DecisionReport(partial(render_decision_report, trained, evaluation, records, "file:tiny",
                                    {"model_epochs": 1}),
                            store, f"refused/{version}.report.html")
    return deploy_challenger(store, app, version, trained, evaluation, records, rules,
                             settings if settings is not None else {"data_fingerprint": "file:tiny"}, report)
