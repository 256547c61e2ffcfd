"""`read_source`: the named columns of a declared data source; a missing file, column or setting is one line."""

from __future__ import annotations

import pandas as pd
import pytest

from carolbatch.identity import fingerprint_file
from carolbatch.records.reader import read_source
from carolbatch.records.sources import DataChangedError, RecordsError
from carolbatch.settings.declaration import Setting, declare_settings
from carolbatch.settings.kinds import DataFile, StagingTable
from carolbatch.tasks import AppTask, setting_parameter

DECLARATION = declare_settings((
    Setting("lookup", DataFile(), None, "a data file", optional=True),
    Setting("lookup_table", StagingTable(), "crm/lookup", "its staging table"),
))


class ReadsLookup(AppTask):
    lookup = setting_parameter(DECLARATION, "lookup")
    lookup_table = setting_parameter(DECLARATION, "lookup_table")


def task_reading(path, fingerprint: str | None = None) -> ReadsLookup:
    fingerprint = fingerprint or (f"file:{fingerprint_file(path)}" if path.exists() else "")
    return ReadsLookup(target_dir=str(path.parent), lookup=str(path), lookup_fingerprint=fingerprint,
                       lookup_table="crm/lookup", lookup_table_fingerprint="")


@pytest.fixture
def lookup_file(tmp_path):
    path = tmp_path / "lookup.csv"
    pd.DataFrame({"key": [3, 1, 2], "score": [0.5, None, 2.0], "other": ["a", "b", "c"]}).to_csv(path, index=False)
    return path


def test_the_named_columns_in_their_order_numbers_as_floats(lookup_file):
    frame = read_source(task_reading(lookup_file), "lookup", "lookup_table", ["key", "score", "other"], ["score"])
    assert list(frame.columns) == ["key", "score", "other"] and frame["score"].dtype == "float64"
    assert frame["other"].tolist() == ["a", "b", "c"]  # text as written; the key (first) exact, whole numbers as ints
    assert frame["key"].tolist() == [3, 1, 2] and frame["score"].isna().tolist() == [False, True, False]


def test_a_missing_column_names_the_files_columns(lookup_file):
    with pytest.raises(RecordsError, match="^setting lookup: data file .* has no column nope; its columns are: key, score, other"):
        read_source(task_reading(lookup_file), "lookup", "lookup_table", ["key", "nope"])


def test_a_missing_file_and_an_unset_setting_are_one_line(lookup_file, tmp_path):
    with pytest.raises(RecordsError, match="not found"):
        read_source(task_reading(tmp_path / "gone.csv"), "lookup", "lookup_table", ["key"])
    with pytest.raises(RecordsError, match="reads no source in local mode"):
        read_source(task_reading(lookup_file), None, "lookup_table", ["key"])


def test_a_file_changed_since_start_up_stops_the_read(lookup_file):
    with pytest.raises(DataChangedError):
        read_source(task_reading(lookup_file, fingerprint="file:" + "0" * 64), "lookup", "lookup_table", ["key"])
