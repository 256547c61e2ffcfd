"""Query results kept as BigQuery keeps them: anonymous destination tables, here Arrow IPC files.

Every query job writes its result to a table of its own, which the REST API pages through and the
Storage Read API streams. Columns carry the Arrow types BigQuery gives its own types (INT64 as
int64, FLOAT64 as double, NUMERIC as decimal128(38, 9), TIMESTAMP as timestamp[us, UTC], ...).
"""

from __future__ import annotations

import datetime
import decimal
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

RESULTS_FOLDER = "results"
BATCH_ROWS = 1 << 16
# Real temporary tables live for a day; here the newest few are kept, enough for every open job.
KEPT_RESULTS = 8
NUMERIC = pa.decimal128(38, 9)
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def result_path(folder: Path, table_id: str) -> Path:
    return folder / RESULTS_FOLDER / f"{table_id}.arrow"


def bigquery_arrow_type(data_type: pa.DataType) -> pa.DataType:
    """The Arrow type BigQuery would give a column of this type."""
    if pa.types.is_boolean(data_type) or pa.types.is_date32(data_type):
        return data_type
    # duckdb's COUNT and COUNT_IF give HUGEINT, decimal128(38, 0) in Arrow; BigQuery's give INT64.
    if pa.types.is_integer(data_type) or (pa.types.is_decimal(data_type) and data_type.scale == 0):
        return pa.int64()
    if pa.types.is_floating(data_type):
        return pa.float64()
    if pa.types.is_decimal(data_type):
        return NUMERIC
    if pa.types.is_timestamp(data_type):
        return UTC_TIMESTAMP
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        return pa.binary()
    return pa.string()


_REST_TYPES = {pa.bool_(): "BOOLEAN", pa.int64(): "INTEGER", pa.float64(): "FLOAT", NUMERIC: "NUMERIC",
               UTC_TIMESTAMP: "TIMESTAMP", pa.date32(): "DATE", pa.binary(): "BYTES", pa.string(): "STRING"}


def rest_fields(schema: pa.Schema) -> list[dict[str, str]]:
    """The table schema as the REST API describes it."""
    return [{"name": field.name, "type": _REST_TYPES[field.type], "mode": "NULLABLE"} for field in schema]


def write_result(folder: Path, table_id: str, reader: pa.RecordBatchReader) -> Path:
    """Write a query's batches as table `table_id`, in BigQuery's column types; returns its file."""
    path = result_path(folder, table_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([pa.field(field.name, bigquery_arrow_type(field.type)) for field in reader.schema])
    partial = path.with_name(path.name + ".part")
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in reader:
            writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
    os.replace(partial, path)
    _expire_results(path.parent)
    return path


def open_result(path: Path) -> pa.Table:
    """The table, memory-mapped: reading a slice touches only that slice's pages."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def forget_results(folder: Path) -> None:
    """Drop every temporary table (jobs do not outlive the sandbox process)."""
    for path in (folder / RESULTS_FOLDER).glob("*.arrow*"):
        path.unlink(missing_ok=True)


def _expire_results(results: Path) -> None:
    files = sorted(results.glob("*.arrow"), key=lambda path: path.stat().st_mtime)
    for path in files[:-KEPT_RESULTS]:
        path.unlink(missing_ok=True)


def rest_rows(table: pa.Table, start: int, size: int, int64_timestamps: bool) -> list[dict]:
    """Rows `start`..`start + size` as `tabledata` rows (`{"f": [{"v": text}, ...]}`)."""
    window = table.slice(start, size)
    columns = [column.to_pylist() for column in window.columns]
    return [{"f": [{"v": encode_value(value, int64_timestamps)} for value in row]} for row in zip(*columns)]


def encode_value(value: Any, int64_timestamps: bool) -> str | None:
    """A cell as the BigQuery REST API sends it: text, or None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        micros = round(value.timestamp() * 1_000_000)
        return str(micros) if int64_timestamps else repr(micros / 1_000_000)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    return str(value)
