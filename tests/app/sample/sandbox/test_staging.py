"""The BigQuery SQL the app sends, translated by sqlglot and run by duckdb over staging files."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from carolbatch.records.staging_sql import build_staging_probe_query, build_staging_query
from sandbox.results import encode_value
from sandbox.staging import QueryError, run_query, stage_records, translate_query, with_metadata


@pytest.fixture
def staged(tmp_path):
    frame = pd.DataFrame({
        "sample": [1, 1, 2, 3, 4], "x": [10.0, 11.0, 20.0, 30.0, 40.0],
        "mdmId": ["a", "a", "b", "c", "d"], "mdmCounterForEntity": [1, 2, 1, 1, 1],
        "mdmDeleted": [False, False, False, True, False],
        "mdmLastUpdated": ["2026-01-01 00:00:00", "2026-01-03 00:00:00", "2026-01-01 00:00:00",
                           "2026-01-02 00:00:00", "2026-01-01 00:00:00"],
    })
    stage_records(tmp_path, "conn", "things", frame)
    return tmp_path


def test_staging_query_keeps_the_latest_undeleted_version_of_each_record(staged):
    result = run_query(staged, build_staging_query("conn", "things", ["sample", "x"]))
    assert [field["name"] for field in result.fields] == ["sample", "x"]
    assert [field["type"] for field in result.fields] == ["INTEGER", "FLOAT"]
    assert sorted(result.rows) == [(1, 11.0), (2, 20.0), (4, 40.0)]


def test_probe_query_counts_records_and_deletions(staged):
    result = run_query(staged, build_staging_probe_query("conn", "things"))
    assert [field["name"] for field in result.fields] == ["records", "counter", "updated", "deleted"]
    assert [field["type"] for field in result.fields] == ["INTEGER", "INTEGER", "STRING", "INTEGER"]
    assert result.rows == [(5, 2, "2026-01-03 00:00:00", 1)]


def test_qualified_table_names_resolve_to_the_one_dataset(staged):
    result = run_query(staged, "SELECT COUNT(*) AS n FROM `carol-abc.abcdef.stg_conn_things`")
    assert result.rows == [(5,)]


def test_bigquery_only_syntax_is_translated():
    assert "EXCLUDE" in translate_query("SELECT * EXCEPT(_rn) FROM t")
    assert "COUNT_IF" in translate_query("SELECT COUNTIF(x) FROM t")


def test_unknown_table_and_bad_sql_are_query_errors(staged):
    with pytest.raises(QueryError, match="stg_conn_missing"):
        run_query(staged, "SELECT * FROM stg_conn_missing")
    with pytest.raises(QueryError):
        run_query(staged, "SELECT FROM WHERE (")


def test_staging_needs_the_carol_metadata_columns(tmp_path):
    with pytest.raises(ValueError, match="mdmCounterForEntity"):
        stage_records(tmp_path, "conn", "things", pd.DataFrame({"mdmId": ["a"], "mdmDeleted": [False],
                                                                 "mdmLastUpdated": ["2026-01-01"]}))


def test_fresh_records_get_one_current_version_each():
    frame = with_metadata(pd.DataFrame({"sample": [5, 6]}), "sample", datetime.datetime(2026, 1, 2))
    assert frame["mdmId"].tolist() == ["5", "6"] and set(frame["mdmCounterForEntity"]) == {1}
    assert not frame["mdmDeleted"].any()


def test_values_are_encoded_as_the_rest_api_sends_them():
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert encode_value(moment, int64_timestamps=True) == str(int(moment.timestamp() * 1_000_000))
    assert [encode_value(value, True) for value in (None, True, 3, 2.5, "x")] == [None, "true", "3", "2.5", "x"]
