"""Staging records from a BigQuery result stream: straight into float arrays, bad values named in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from carolbatch.storage.bigquery_reader import QueryStream
from carolbatch.records.sources import RecordsError
from carolbatch.records.staging_sql import build_failed_values_query, build_staging_columns_query, build_staging_query
from carolbatch.records.staging import read_staging_records


class ResultStream:
    """Answers the staging query with `table` in batches of 2 rows, and failed-value queries with `example`."""

    def __init__(self, table: pa.Table, example: pd.DataFrame | None = None, lost_rows: int = 0) -> None:
        self.table = table
        self.lost_rows = lost_rows
        self.example = example if example is not None else pd.DataFrame({"record": [], "value": []})
        self.queries: list[str] = []

    def stream(self, sql: str) -> QueryStream:
        self.queries.append(sql)
        arrived = self.table.slice(0, self.table.num_rows - self.lost_rows)
        return QueryStream(self.table.num_rows, self.table.schema, iter(arrived.to_batches(max_chunksize=2)), "test")

    def query_frame(self, sql: str) -> pd.DataFrame:
        self.queries.append(sql)
        if sql.endswith("LIMIT 0"):  # the column names of the staging table
            return self.table.schema.empty_table().to_pandas()
        return self.example


def test_batches_fill_one_float_array_per_column():
    table = pa.table({"id": ["a", "b", "c", "d", "e"], "x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [0.5] * 5})
    reader = ResultStream(table)
    frame = read_staging_records(reader, "conn", "stage", ["id", "x", "y"], "float32")
    assert frame["x"].dtype == np.float32 and frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert frame["id"].tolist() == ["a", "b", "c", "d", "e"]
    assert reader.queries == [build_staging_columns_query("conn", "stage"),
                              build_staging_query("conn", "stage", ["id", "x", "y"], ["x", "y"])]


def test_categories_are_read_as_text_and_only_numbers_are_cast():
    table = pa.table({"id": [1, 2], "kind": ["north", None], "x": [1.0, None], "y": [3.0, 4.0]})
    reader = ResultStream(table)
    frame = read_staging_records(reader, "conn", "stage", ["id", "kind", "x", "y"], "float64", numeric_columns=["x", "y"])
    assert frame["kind"].tolist()[0] == "north" and np.isnan(frame["x"][1])
    assert reader.queries[1] == build_staging_query("conn", "stage", ["id", "kind", "x", "y"], ["x", "y"], ["kind"])
    assert "CAST(`kind` AS STRING) AS `kind`" in reader.queries[1]


def test_a_missing_column_lists_the_staging_table_columns():
    reader = ResultStream(pa.table({"id": [1], "x": [1.0]}))
    with pytest.raises(RecordsError, match=r"has no column y; its columns are: id, x \(set feature_columns"):
        read_staging_records(reader, "conn", "stage", ["id", "x", "y"], "float64")


def test_optional_columns_are_read_when_the_table_has_them_and_may_hold_non_numbers():
    table = pa.table({"id": [1, 2], "x": [1.0, 2.0], "y": [3.0, 4.0], "old": [None, 5.0]})
    reader = ResultStream(table)
    frame = read_staging_records(reader, "conn", "stage", ["id", "x", "y"], "float64", ["old", "gone", "x"])
    assert list(frame.columns) == ["id", "x", "y", "old"] and np.isnan(frame["old"][0])
    assert reader.queries == [build_staging_columns_query("conn", "stage"),
                              build_staging_query("conn", "stage", ["id", "x", "y", "old"], ["x", "y", "old"])]


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_a_value_that_is_not_a_finite_number_names_column_record_and_value(bad):
    table = pa.table({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "y": [bad, 1.0, bad]})
    reader = ResultStream(table, pd.DataFrame({"record": ["1"], "value": ["12 m"]}))
    with pytest.raises(RecordsError) as raised:
        read_staging_records(reader, "conn", "stage", ["id", "x", "y"], "float64")
    assert str(raised.value) == ("Carol staging conn/stage: column y holds '12 m' in record id=1, not a finite number "
                                 "(setting categorical_columns lists the columns of text categories)")
    assert reader.queries[-1] == build_failed_values_query("conn", "stage", "id", "y")


def test_nulls_are_blanks_when_no_value_fails_to_cast():
    table = pa.table({"id": [7, 8], "x": [None, 1.0]})
    frame = read_staging_records(ResultStream(table), "conn", "stage", ["id", "x"], "float64")
    assert np.isnan(frame["x"][0]) and frame["x"][1] == 1.0


def test_staging_query_casts_numbers_in_bigquery_and_leaves_the_order_to_the_reader():
    sql = build_staging_query("conn", "stage", ["id", "x"], ["x"])
    assert "SELECT `id`, SAFE_CAST(`x` AS FLOAT64) AS `x` FROM" in sql
    # The only ORDER BY is the window's choosing each record's latest version; the result has none.
    assert sql.count("ORDER BY") == 1 and "OVER (PARTITION BY mdmId ORDER BY" in sql
    failed = build_failed_values_query("conn", "stage", "id", "x")
    assert "`x` IS NOT NULL AND (SAFE_CAST(`x` AS FLOAT64) IS NULL" in failed and failed.endswith("LIMIT 1")
    with pytest.raises(RecordsError, match="not a valid"):
        build_failed_values_query("conn", "stage", "id", "x) OR (1")


@pytest.mark.parametrize("ids", [[3, 1, 2, 5, 4], ["c", "a", "b", "e", "d"]])
def test_records_are_ordered_by_their_id_whatever_order_the_streams_gave(ids):
    table = pa.table({"id": ids, "x": [3.0, 1.0, 2.0, 5.0, 4.0], "y": [30.0, 10.0, 20.0, 50.0, 40.0]})
    frame = read_staging_records(ResultStream(table), "conn", "stage", ["id", "x", "y"], "float64")
    assert frame["id"].tolist() == sorted(ids) and frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert frame["y"].tolist() == [10.0, 20.0, 30.0, 40.0, 50.0] and frame.index.tolist() == [0, 1, 2, 3, 4]
    reversed_rows = table.take(pa.array([4, 3, 2, 1, 0]))
    again = read_staging_records(ResultStream(reversed_rows), "conn", "stage", ["id", "x", "y"], "float64")
    pd.testing.assert_frame_equal(frame, again)


def test_a_short_read_is_an_error_naming_both_counts():
    table = pa.table({"id": [1, 2, 3, 4, 5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    with pytest.raises(RecordsError, match="the query returned 5 records but 3 arrived through the BigQuery test"):
        read_staging_records(ResultStream(table, lost_rows=2), "conn", "stage", ["id", "x"], "float64")
