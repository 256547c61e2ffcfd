"""Reading files into per-column arrays and validating records."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from carolbatch.records.sources import (
    Records,
    RecordsError,
    read_records,
    validate_records,
)
from carolbatch.identity import fingerprint_file
from carolbatch.records.staging_sql import build_staging_query
from carolbatch.storage import columnar
from carolbatch.storage.artifacts import load_artifact, save_artifact
from carolbatch.storage.stores import LocalStore
from tests.conftest import FEATURES

COLUMNS = ["id", *FEATURES, "y"]


def write(frame: pd.DataFrame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=7)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.fixture(params=["csv", "parquet"])
def suffix(request) -> str:
    return request.param


def test_read_records_returns_the_columns_in_order_with_float_columns_converted(tmp_path, tiny_frame, suffix):
    path = write(tiny_frame[["y", "c", "id", "a", "b"]], tmp_path / f"data.{suffix}")
    frame = read_records(path, COLUMNS, COLUMNS[1:], id_column="id")
    assert list(frame.columns) == COLUMNS
    assert frame["id"].dtype == np.int64
    assert all(frame[name].dtype == np.float64 for name in COLUMNS[1:])
    np.testing.assert_array_equal(frame["a"].to_numpy(), tiny_frame["a"].to_numpy())


def test_float32_halves_the_float_columns(tmp_path, tiny_frame, suffix):
    frame = read_records(write(tiny_frame, tmp_path / f"data.{suffix}"), COLUMNS, COLUMNS[1:], "float32")
    assert all(frame[name].dtype == np.float32 for name in COLUMNS[1:])
    np.testing.assert_allclose(frame["y"].to_numpy(), tiny_frame["y"].to_numpy(), rtol=1e-6)


def test_many_small_batches_fill_every_row(tmp_path, monkeypatch, suffix):
    rows = 1000
    frame = pd.DataFrame({"id": np.arange(rows), "a": np.arange(rows) * 0.5, "b": np.arange(rows) % 7,
                          "c": -np.arange(rows, dtype=float), "y": np.ones(rows)})
    path = write(frame, tmp_path / f"data.{suffix}")
    monkeypatch.setattr(columnar, "CSV_BLOCK_BYTES", 256)
    read = columnar.read_columns(path, COLUMNS, COLUMNS[1:], "float64", batch_rows=33)
    assert len(read["a"]) == rows
    np.testing.assert_array_equal(read["a"], frame["a"].to_numpy())
    np.testing.assert_array_equal(read["b"], frame["b"].to_numpy(dtype=float))
    np.testing.assert_array_equal(read["id"], frame["id"].to_numpy())


def test_text_ids_are_not_python_object_columns(tmp_path, tiny_frame, suffix):
    frame = tiny_frame.assign(id=[f"row-{number}" for number in range(len(tiny_frame))])
    read = read_records(write(frame, tmp_path / f"data.{suffix}"), COLUMNS, COLUMNS[1:])
    assert read["id"].dtype != object
    assert read["id"].tolist() == frame["id"].tolist()


@pytest.mark.parametrize(
    "content, words",
    [(None, "not found"), (b"", "is empty"), (b"\x00\x01garbage\n\xff", "cannot be read")],
    ids=["missing", "empty", "garbage"],
)
def test_unusable_files_are_records_errors(tmp_path, content, words):
    path = tmp_path / "data.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordsError, match=words):
        read_records(path, COLUMNS, COLUMNS[1:])


def test_missing_and_text_columns_are_named(tmp_path, tiny_frame, suffix):
    path = write(tiny_frame.drop(columns=["b"]), tmp_path / f"data.{suffix}")
    with pytest.raises(RecordsError, match="no column b"):
        read_records(path, COLUMNS, COLUMNS[1:])
    path = write(tiny_frame.assign(b="high"), tmp_path / f"text.{suffix}")
    with pytest.raises(RecordsError, match="column b is not numeric"):
        read_records(path, COLUMNS, COLUMNS[1:])


def test_missing_values_survive_reading_and_are_counted_by_validation(tmp_path, tiny_frame, suffix):
    frame = tiny_frame.assign(y=tiny_frame["y"].where(tiny_frame.index > 2),
                              a=tiny_frame["a"].where(tiny_frame.index % 5 != 0))
    read = read_records(write(frame, tmp_path / f"data.{suffix}"), COLUMNS, COLUMNS[1:], id_column="id")
    records = validate_records(read, FEATURES, "y", "id", "test data")
    assert records.facts == {"imputed_values": {"a": 3}, "records_without_target": 3}
    assert records.frame["id"].tolist() == list(range(3, 20))
    assert int(np.isnan(records.frame["a"].to_numpy()).sum()) == 3


def test_a_table_without_any_target_value_is_refused_naming_the_target(tiny_frame):
    with pytest.raises(RecordsError, match="target column y has no value in any of its 20 records"):
        validate_records(tiny_frame.assign(y=np.nan), FEATURES, "y", "id", "test data")


def test_records_without_an_id_column_have_no_key(tiny_frame):
    records = validate_records(tiny_frame.drop(columns=["id"]), FEATURES, "y", None, "test data")
    assert list(records.frame.columns) == [*FEATURES, "y"]


def test_categories_are_kept_as_text_with_blanks(tiny_frame):
    frame = tiny_frame.assign(c=["north", None, 3] + ["south"] * 17)
    records = validate_records(frame, FEATURES, "y", "id", "test data", categorical_columns=["c"])
    values = records.frame["c"].to_numpy()
    assert values[0] == "north" and values[2] == "3" and values[1] != values[1]  # NaN


def test_a_missing_column_lists_the_table_and_the_settings(tiny_frame):
    with pytest.raises(RecordsError, match=r"no column c; its columns are: id, a, b, y \(set feature_columns"):
        validate_records(tiny_frame.drop(columns=["c"]), FEATURES, "y", "id", "test data")


def test_a_text_value_in_a_numeric_column_names_its_line_and_value(tmp_path, tiny_frame, suffix):
    frame = tiny_frame.astype({"b": str}).drop(columns=["id"])
    frame.loc[4, "b"] = "high"
    path = write(frame, tmp_path / f"data.{suffix}")
    where = "line 6" if suffix == "csv" else "row 5"
    with pytest.raises(RecordsError, match=f"column b is not numeric: it holds 'high' in record at {where}"):
        read_records(path, [*FEATURES, "y"], [*FEATURES, "y"])
    with_ids = write(frame.assign(id=[f"k{number}" for number in range(20)]), tmp_path / f"ids.{suffix}")
    with pytest.raises(RecordsError, match="'high' in record id=k4"):
        read_records(with_ids, COLUMNS, COLUMNS[1:], id_column="id")


def test_validation_shares_float_columns_instead_of_copying(tiny_frame):
    records = validate_records(tiny_frame, FEATURES, "y", "id", "test data")
    assert np.shares_memory(records.frame["a"].to_numpy(), tiny_frame["a"].to_numpy())
    assert records.frame["id"].dtype == np.int64


def test_validation_converts_integer_columns_to_floats(tiny_frame):
    records = validate_records(tiny_frame.assign(b=np.arange(20)), FEATURES, "y", "id", "test data", "float32")
    assert records.frame["b"].dtype == np.float32 and records.frame["b"].tolist() == list(range(20))


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda frame: frame.drop(columns=["c"]), "has no column c"),
        (lambda frame: frame.head(5), "at least 10"),
        (lambda frame: frame.assign(a="x"), "column a is not numeric"),
        (lambda frame: frame.assign(b=True), "column b is not numeric"),
        (lambda frame: frame.assign(c=np.inf), "column c holds inf in record id=0: infinite values"),
    ],
    ids=["missing column", "too few rows", "text", "boolean", "infinite"],
)
def test_validation_failures(tiny_frame, edit, words):
    with pytest.raises(RecordsError, match=words):
        validate_records(edit(tiny_frame), FEATURES, "y", "id", "test data")


def test_records_are_stored_as_plain_arrays_and_load_back_equal(tmp_path, tiny_frame):
    records = validate_records(tiny_frame, FEATURES, "y", "id", "test data")
    _, (columns, source, _facts) = records.__reduce__()
    assert source == "test data" and all(type(value) is np.ndarray for value in columns.values())
    store = LocalStore(tmp_path)
    save_artifact(store, "records.pkl", records)
    loaded = load_artifact(store, "records.pkl")
    assert isinstance(loaded, Records) and loaded.source == "test data"
    pd.testing.assert_frame_equal(loaded.frame, records.frame)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=hnp.arrays(np.float64, st.tuples(st.integers(10, 40), st.just(4)), elements=finite))
def test_any_finite_floats_round_trip_through_both_formats(tmp_path, values):
    frame = pd.DataFrame(values, columns=["a", "b", "c", "y"]).assign(id=np.arange(len(values)))
    for name in ("data.csv", "data.parquet"):
        path = write(frame[COLUMNS], tmp_path / name)
        records = validate_records(read_records(path, COLUMNS, COLUMNS[1:], id_column="id"), FEATURES, "y", "id",
                                   name)
        np.testing.assert_array_equal(records.frame[COLUMNS].to_numpy(), frame[COLUMNS].to_numpy(dtype=float))


def test_staging_query_refuses_names_that_are_not_identifiers():
    sql = build_staging_query("conn", "stage", ["id", "x"])
    assert "FROM stg_conn_stage" in sql and "`id`, `x`" in sql
    with pytest.raises(RecordsError, match="not a valid"):
        build_staging_query("conn", "stage; DROP", ["id"])


def test_arrow_tables_with_nulls_in_integer_columns_read_as_missing_floats(tmp_path):
    table = pa.table({"id": list(range(12)), "a": [1] * 11 + [None], "b": [0.5] * 12, "c": [2.0] * 12,
                      "y": [1.0] * 12})
    pq.write_table(table, tmp_path / "data.parquet")
    frame = read_records(tmp_path / "data.parquet", COLUMNS, COLUMNS[1:])
    assert np.isnan(frame["a"].iloc[-1])


def test_csv_float_columns_do_not_depend_on_what_the_first_rows_look_like(tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "CSV_BLOCK_BYTES", 64)
    lines = ["id,a,b,c,y", *(f"{row},{row},1,2,3" for row in range(30)), "30,0.5,1,2,3"]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    frame = read_records(tmp_path / "data.csv", COLUMNS, COLUMNS[1:])
    assert frame["a"].iloc[-1] == 0.5 and len(frame) == 31
    lines[-1] = "30,high,1,2,3"
    (tmp_path / "text.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordsError, match="column a is not numeric: it holds .high. in record at line 32"):
        read_records(tmp_path / "text.csv", COLUMNS, COLUMNS[1:])


def test_records_are_checked_against_the_fingerprint_start_up_took(tmp_path, tiny_frame):
    path = tmp_path / "data.csv"
    tiny_frame.to_csv(path, index=False)
    expected = f"file:{fingerprint_file(path)}"
    frame = read_records(path, ["id", "a", "y"], ["a", "y"], expected_fingerprint=expected)
    assert len(frame) == 20
    tiny_frame.assign(a=tiny_frame["a"] + 1).to_csv(path, index=False)  # rewritten after start-up
    with pytest.raises(RecordsError, match=r"data.csv: the data file changed while it was read"):
        read_records(path, ["id", "a", "y"], ["a", "y"], expected_fingerprint=expected)


def test_a_file_replaced_while_open_is_read_whole_from_the_first_one(tmp_path, tiny_frame, monkeypatch):
    from carolbatch.records import sources

    path = tmp_path / "data.parquet"
    tiny_frame.to_parquet(path)
    expected = f"file:{fingerprint_file(path)}"
    reader = sources.read_columns

    def replace_then_read(*args, **kwargs):
        other = tmp_path / "other.parquet"
        tiny_frame.head(12).to_parquet(other)
        other.replace(path)  # a writer renames a new file into place mid-read
        return reader(*args, **kwargs)

    monkeypatch.setattr(sources, "read_columns", replace_then_read)
    frame = read_records(path, ["id", "a"], ["a"], expected_fingerprint=expected)
    assert len(frame) == 20  # the bytes read are the fingerprinted ones, all of them


def test_a_csv_that_is_not_utf8_is_one_error_naming_the_file(tmp_path):
    import gzip

    path = tmp_path / "data.csv"
    path.write_bytes(gzip.compress(b"id,a\n1,2\n" * 20))
    with pytest.raises(RecordsError, match=r"data.csv is not UTF-8 text"):
        read_records(path, ["id", "a"], ["a"])
    path.write_bytes("id,caf\xe9\n1,2\n".encode("latin-1"))
    with pytest.raises(RecordsError, match=r"data.csv is not UTF-8 text"):
        read_records(path, ["id", "a"], ["a"])


@pytest.mark.parametrize("ids, words", [([1, 2, 2] + list(range(3, 20)), "has 1 duplicate values (first: 2)"),
                                        ([None] + list(range(1, 20)), "has 1 missing values")])
def test_ids_must_be_present_and_unique(tiny_frame, ids, words):
    with pytest.raises(RecordsError, match=rf"tiny: id column id {re.escape(words)}"):
        validate_records(tiny_frame.assign(id=ids), FEATURES, "y", "id", "tiny")


def test_categories_are_read_as_text_exactly_as_written_in_a_csv_file(tmp_path):
    path = tmp_path / "data.csv"
    codes = ["01", "1", "002", "2", "", "24", "1", "01", "NA", "24"]
    path.write_text("id,c,a,y\n" + "".join(f"{n},{code},{n * 0.5},{n}\n" for n, code in enumerate(codes)))
    read = read_records(path, ["id", "c", "a", "y"], ["a", "y"], id_column="id")
    records = validate_records(read, ["c", "a"], "y", "id", "codes", categorical_columns=["c"])
    values = records.frame["c"].tolist()
    assert values[:4] == ["01", "1", "002", "2"] and values[5:] == ["24", "1", "01", "NA", "24"]
    assert pd.isna(values[4])  # a blank cell stays blank: no "1.0" in a column with a blank


@pytest.mark.parametrize("stored", [[1.0, np.nan, 24.0, 1.0], [1, None, 24, 1], ["1", None, "24", "1"]],
                         ids=["floats-with-a-blank", "nullable-ints", "text"])
def test_categories_stored_as_numbers_in_parquet_read_as_their_plain_text(tmp_path, stored):
    frame = pd.DataFrame({"id": range(4), "c": pd.array(stored, dtype="Int64") if stored[1] is None and
                          isinstance(stored[0], int) else stored, "a": [0.5] * 4, "y": [1.0] * 4})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    read = read_records(path, ["id", "c", "a", "y"], ["a", "y"], id_column="id")
    values = validate_records(pd.concat([read] * 3, ignore_index=True).assign(id=range(12)), ["c", "a"], "y",
                              "id", "codes", categorical_columns=["c"]).frame["c"].tolist()[:4]
    assert values[0] == "1" and values[2] == "24" and values[3] == "1" and pd.isna(values[1])


@pytest.mark.parametrize("base", [10**20, 2**63, 10**18], ids=["1e20", "2^63", "19-digits"])
def test_ids_of_any_size_are_read_exactly_and_not_refused_as_duplicates(tmp_path, base, suffix):
    ids = [base + number for number in range(12)]
    lines = "".join(f"{record_id},{number * 0.5},{number}\n" for number, record_id in enumerate(ids))
    path = tmp_path / "data.csv"
    path.write_text("id,a,y\n" + lines)
    if suffix == "parquet":
        pd.read_csv(path, dtype={"id": str}).to_parquet(path := tmp_path / "data.parquet", index=False)
    records = validate_records(read_records(path, ["id", "a", "y"], ["a", "y"], id_column="id"), ["a"], "y", "id",
                               "big ids")
    assert [int(value) for value in records.frame["id"].tolist()] == ids


def test_ids_written_with_leading_zeros_stay_apart_from_plain_ones(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,a,y\n" + "".join(f"{record_id},{n},{n}\n" for n, record_id in
                                         enumerate(["007", "7", *map(str, range(10, 20))])))
    read = read_records(path, ["id", "a", "y"], ["a", "y"], id_column="id")
    assert read["id"].tolist()[:2] == ["007", "7"]
    assert validate_records(read, ["a"], "y", "id", "zeros").frame["id"].nunique() == 12


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_id_is_refused_in_one_line(tiny_frame, blank):
    ids = [f"r{number}" for number in range(len(tiny_frame))]
    ids[3] = blank
    with pytest.raises(RecordsError) as raised:
        validate_records(tiny_frame.assign(id=ids), FEATURES, "y", "id", "tiny")
    assert "id column id has 1 empty values" in str(raised.value) and "\n" not in str(raised.value)


def test_a_file_and_carol_staging_give_a_model_the_same_categories(tmp_path):
    from carolbatch.records.staging import read_staging_records
    from tests.platform.records.test_staging_records import ResultStream

    codes = ["01", "1", None, "24", "002", "2", "1", None, "24", "01", "7", "07"]
    frame = pd.DataFrame({"id": range(12), "c": codes, "a": np.arange(12) * 0.5, "y": np.arange(12.0)})
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    local = read_records(path, ["id", "c", "a", "y"], ["a", "y"], id_column="id")
    # Carol: BigQuery casts the category to STRING; a NULL arrives as a null.
    staged = read_staging_records(ResultStream(pa.Table.from_pandas(frame, preserve_index=False)), "conn", "stage",
                                  ["id", "c", "a", "y"], "float64", numeric_columns=["a", "y"])
    by_mode = [validate_records(read, ["c", "a"], "y", "id", "codes", categorical_columns=["c"]).frame["c"]
               for read in (local, staged)]
    pd.testing.assert_series_equal(*by_mode)
    assert by_mode[0].tolist()[:2] == ["01", "1"]
