"""IngestRecords run by Luigi: validated records from the data file, and one clear failure for bad data."""

from __future__ import annotations

from pathlib import Path

import luigi
import pandas as pd

from carolbatch.tasks import pipeline_params
from app.flow.ingestion import IngestRecords
from carolbatch.identity import fingerprint_file
from tests.app.conftest import default_settings
from tests.conftest import APP_DATA


def ingest_task(tmp_path, data_path=APP_DATA, **overrides) -> IngestRecords:
    settings = default_settings(data_path=str(data_path), target_dir=str(tmp_path / "t"), **overrides)
    # The fingerprint of the file's bytes, as start-up gives it: ingestion checks what it read against it.
    fingerprint = f"file:{fingerprint_file(Path(data_path))}"
    return IngestRecords(**pipeline_params(settings, {"data_path": fingerprint}, carol_mode=False, cloud_targets=False))


def test_ingested_records_hold_the_key_features_and_target_as_floats(tmp_path):
    task = ingest_task(tmp_path, float32=True)
    assert luigi.build([task], local_scheduler=True, workers=1)
    records = task.output().load()
    assert len(records.frame) == len(pd.read_csv(APP_DATA)) and records.source == str(APP_DATA)
    assert list(records.frame.columns) == [task.id_column, *task.feature_columns, task.target_column]
    assert all(records.frame[name].dtype == "float32" for name in [*task.feature_columns, task.target_column])


def test_a_data_file_without_a_feature_column_fails_the_task_and_writes_no_target(tmp_path):
    broken = tmp_path / "broken.csv"
    pd.read_csv(APP_DATA).drop(columns=[default_settings().feature_columns[-1]]).to_csv(broken, index=False)
    task = ingest_task(tmp_path, data_path=broken)
    assert not luigi.build([task], local_scheduler=True, workers=1)
    assert not task.complete() and task.output().state() == "missing"
