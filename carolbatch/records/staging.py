"""Carol staging records: the deduplicated query, cast to FLOAT64 in BigQuery, streamed into column arrays."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carolbatch.storage.columnar import fill_columns
from carolbatch.records.sources import RecordsError
from carolbatch.records.staging_sql import build_failed_values_query, build_staging_columns_query, build_staging_query

logger = logging.getLogger(__name__)


def read_staging_records(reader, connector: str, staging: str, columns: Sequence[str], float_dtype: str,
                         optional_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The latest, non-deleted records of a staging table, numbers cast by BigQuery, held once in memory.

    Args:
        reader: a `BigQueryReader` (app/functions/storage/bigquery_reader.py) of the tenant.
        connector: the staging table's connector.
        staging: the staging name.
        columns: the record id column, then the numeric columns (features and target).
        float_dtype: "float64" or "float32".
        optional_columns: more numeric columns read when the table has them (a value that is not a number
            becomes NaN in them, not an error).

    Returns:
        One unconsolidated array per column, rows ordered by the id column (whatever streams they came by).

    Raises:
        RecordsError: fewer records arrived than the query returned (both numbers named); a numeric column
            holds a NULL or a value that is not a finite number; the message names the column, how many
            values failed and one of them with its record id.
    """
    source = f"Carol staging {connector}/{staging}"
    if optional_columns:
        present = set(reader.query_frame(build_staging_columns_query(connector, staging)).columns)
        optional_columns = [name for name in optional_columns if name in present and name not in columns]
    read = [*columns, *optional_columns]
    stream = reader.stream(build_staging_query(connector, staging, read, read[1:]))
    streams = "" if stream.route != "Storage Read API" else (
        f" ({stream.streams} streams at once)" if stream.streams > 1 else f" ({stream.streams} stream)")
    logger.info("reading %d records from %s through the BigQuery %s%s", stream.total_rows, source, stream.route,
                streams)
    arrays = fill_columns(stream.batches, stream.total_rows, stream.schema, read, read[1:], float_dtype)
    received = len(arrays[columns[0]])
    if received != stream.total_rows:
        raise RecordsError(f"{source}: the query returned {stream.total_rows} records but {received} arrived "
                           f"through the BigQuery {stream.route}; nothing was kept")
    arrays = _order_by_key(arrays, columns[0])
    for name in columns[1:]:
        failed = arrays[name].size - int(np.count_nonzero(np.isfinite(arrays[name])))
        if failed:
            example = reader.query_frame(build_failed_values_query(connector, staging, columns[0], name))
            raise RecordsError(f"{source}: column {name} has {failed} values that are not numbers "
                               f"(NULL, or not convertible to FLOAT64), e.g. {_example(example, columns[0])}")
    return pd.DataFrame(arrays, index=pd.RangeIndex(received), copy=False)


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


def _example(found: pd.DataFrame, id_column: str) -> str:
    if found.empty:  # changed since it was read
        return "none left on a second look"
    value = found["value"].iloc[0]
    shown = "NULL" if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else repr(value)
    return f"{shown} in record {id_column}={found['record'].iloc[0]}"
