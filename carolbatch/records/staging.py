"""Carol staging records: the deduplicated query, numbers cast to FLOAT64 and categories to STRING in BigQuery,
streamed into column arrays."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carolbatch.storage.columnar import fill_columns
from carolbatch.records.sources import RecordsError
from carolbatch.records.values import missing_columns_message
from carolbatch.records.staging_sql import build_failed_values_query, build_staging_columns_query, build_staging_query

logger = logging.getLogger(__name__)

# Every staging record has this key; records of a table without an id column go by it.
STAGING_KEY = "mdmId"


def read_staging_records(reader, connector: str, staging: str, columns: Sequence[str], float_dtype: str,
                         optional_columns: Sequence[str] = (), numeric_columns: Sequence[str] | None = None,
                         native_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The latest, non-deleted records of a staging table, numbers cast by BigQuery, held once in memory.

    Args:
        reader: a `BigQueryReader` (app/functions/storage/bigquery_reader.py) of the tenant.
        connector: the staging table's connector.
        staging: the staging name.
        columns: the record id column, then the features and the target.
        float_dtype: "float64" or "float32".
        optional_columns: more numeric columns read when the table has them (a value that is not a number
            becomes NaN in them, not an error).
        numeric_columns: the columns cast to numbers (default: all but the id); the other columns but the id
            and `native_columns` are categories, cast to STRING.
        native_columns: columns read in the staging table's own type (a target: numbers, or labels).

    Returns:
        One unconsolidated array per column, rows ordered by the id column (whatever streams they came by).

    Raises:
        RecordsError: a column is missing (the message lists the table's); fewer records arrived than the query
            returned (both numbers named); a numeric column holds a value that is not a finite number (a NULL
            is a blank, NaN): the message names the column, one such value and its record id.
    """
    source = f"Carol staging {connector}/{staging}"
    optional_columns = _present_optional_columns(reader, connector, staging, source, columns, optional_columns)
    read = [*columns, *optional_columns]
    numeric = [*(read[1:] if numeric_columns is None else numeric_columns), *optional_columns]
    text = [name for name in columns[1:] if name not in numeric and name not in native_columns]
    stream = reader.stream(build_staging_query(connector, staging, read, numeric, text))
    streams = "" if stream.route != "Storage Read API" else (
        f" ({stream.streams} streams at once)" if stream.streams > 1 else f" ({stream.streams} stream)")
    logger.info("reading %d records from %s through the BigQuery %s%s", stream.total_rows, source, stream.route,
                streams)
    arrays = fill_columns(stream.batches, stream.total_rows, stream.schema, read, numeric, float_dtype)
    received = len(arrays[columns[0]])
    if received != stream.total_rows:
        raise RecordsError(f"{source}: the query returned {stream.total_rows} records but {received} arrived "
                           f"through the BigQuery {stream.route}; nothing was kept")
    arrays = _order_by_key(arrays, columns[0])
    for name in columns[1:]:
        if name in numeric and not np.isfinite(arrays[name]).all():
            _check_not_numbers(reader, connector, staging, columns[0], name, source)
    return pd.DataFrame(arrays, index=pd.RangeIndex(received), copy=False)


def _present_optional_columns(reader, connector: str, staging: str, source: str, columns: Sequence[str],
                              optional_columns: Sequence[str]) -> list[str]:
    """The optional columns the table has, once it has every column of `columns`."""
    present = list(reader.query_frame(build_staging_columns_query(connector, staging)).columns)
    missing = [name for name in columns if name not in present]
    if missing:
        raise RecordsError(missing_columns_message(source, missing, present))
    return [name for name in optional_columns if name in present and name not in columns]


def _order_by_key(arrays: dict[str, np.ndarray | pd.Series], key: str) -> dict[str, np.ndarray | pd.Series]:
    """The columns with their rows ordered by `key` (stable), so records arrive in one order however streamed.

    Columns are reordered one at a time (taken out of `arrays`): the peak is the records plus one column
    and the order.
    """
    keys = arrays[key]
    if pd.Series(keys, copy=False).is_monotonic_increasing:
        return arrays
    # Arrow's sort is stable and takes missing keys (reported by validation) last.
    order = pc.sort_indices(pa.array(keys)).to_numpy()
    ordered = {}
    for name in list(arrays):
        values = arrays.pop(name)
        ordered[name] = values.take(order).reset_index(drop=True) if isinstance(values, pd.Series) else values[order]
    return ordered


def _check_not_numbers(reader, connector: str, staging: str, id_column: str, name: str, source: str) -> None:
    """NULLs are blanks; a value BigQuery cannot cast to a finite FLOAT64 is an error naming it and its record."""
    found = reader.query_frame(build_failed_values_query(connector, staging, id_column, name))
    if not found.empty:
        raise RecordsError(f"{source}: column {name} holds {_example(found, id_column)}, not a finite number "
                           f"(setting categorical_columns lists the columns of text categories)")


def _example(found: pd.DataFrame, id_column: str) -> str:
    return f"{found['value'].iloc[0]!r} in record {id_column}={found['record'].iloc[0]}"
