"""Streaming a CSV or Parquet file into one NumPy array per column, holding the data only once.

A file is read in record batches, each converted straight into arrays allocated up front, so the
peak memory is the result plus one batch, not an Arrow table plus a copy of it.
"""

from __future__ import annotations

import csv
import mmap
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from carolbatch.storage.file_batches import count_lines, row_group_batches

BATCH_ROWS = 1 << 20
CSV_BLOCK_BYTES = 1 << 24
PARQUET_SUFFIXES = (".parquet", ".pq")
_PLAIN_INTEGER = r"^-?(?:0|[1-9][0-9]{0,18})$"
_CSV_CONVERSION_ERROR = re.compile(r"In CSV column #(?P<index>\d+): CSV conversion error to (?P<type>\w+): (?P<detail>.*)")


class ColumnError(ValueError):
    """A column is absent (`missing` names them), or `column` is not numeric where numbers are required."""

    def __init__(self, message: str, column: str | None = None, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.column, self.missing = column, tuple(missing)


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def list_columns(path: Path, parquet: bool | None = None) -> list[str]:
    """The column names of a CSV or Parquet file, read from its header or schema only.

    `parquet` gives the format when `path` does not show it (a `/proc/self/fd/N` path).
    """
    return pq.read_schema(path).names if _parquet(path, parquet) else _csv_header(path)


def _parquet(path: Path, parquet: bool | None) -> bool:
    return is_parquet(path) if parquet is None else parquet


def read_columns(
    path: Path, columns: Sequence[str], float_columns: Sequence[str], float_dtype: str, batch_rows: int = BATCH_ROWS,
    parquet: bool | None = None, text_columns: Sequence[str] = (), key_column: str | None = None,
) -> dict[str, np.ndarray | pd.Series]:
    """Read `columns` of a file; those in `float_columns` become `float_dtype` arrays (nulls as NaN), those in
    `text_columns` text exactly as written, and `key_column` exact whatever its size.

    Args:
        path: a `.csv` or `.parquet` file.
        columns: the columns to read, in the order returned.
        float_columns: the subset converted to floats while reading.
        float_dtype: "float64" or "float32".
        batch_rows: rows converted at a time (Parquet; CSV batches follow its block size).
        parquet: the format, when `path` does not show it by its suffix.
        text_columns: columns read as text: in a CSV file the characters of each cell (`01` is not `1`, a
            blank cell is empty text), in Parquet strings as stored and numbers as their plain text (1.0 is "1").
        key_column: the record id: in a CSV file read as text, then int64 when every id is an integer
            written plainly that fits one, else kept as text (ids above 2**63, `007`: never a rounded float).

    Returns:
        Column name to a NumPy array (float and plain numeric columns) or a pandas Series (others).

    Raises:
        ColumnError: a column is missing, or a float column holds something other than numbers.
        pyarrow.ArrowInvalid, OSError: the file cannot be parsed.
    """
    as_text = [*text_columns, *([key_column] if key_column else [])]
    capacity, schema, batches = _open_batches(path, columns, float_columns, float_dtype, batch_rows,
                                              _parquet(path, parquet), as_text)
    return fill_columns(batches, capacity, schema, columns, float_columns, float_dtype, text_columns, key_column)


def fill_columns(
    batches: Iterable[pa.RecordBatch], capacity: int, schema: pa.Schema, columns: Sequence[str],
    float_columns: Sequence[str], float_dtype: str, text_columns: Sequence[str] = (), key_column: str | None = None,
) -> dict[str, np.ndarray | pd.Series]:
    """Copy record batches into one array per column, allocated once for `capacity` rows.

    Args:
        batches: the record batches, each holding `columns`; each is released once copied.
        capacity: an upper bound of the rows (exact when known).
        schema: the batches' schema.
        columns: the columns, in the order returned.
        float_columns: the subset converted to `float_dtype` (nulls as NaN).
        float_dtype: "float64" or "float32".
        text_columns, key_column: see `read_columns`.

    Raises:
        ColumnError: more rows than `capacity`, or a float column holds something other than numbers.
    """
    floats = {name: _allocate(capacity, float_dtype) for name in float_columns}
    others: dict[str, list[pa.Array]] = {name: [] for name in columns if name not in floats}
    convert = {name: _copy for name in others} | {name: _as_text for name in text_columns if name in others}
    if key_column in others:
        convert[key_column] = _as_key
    filled = 0
    for batch in batches:
        if filled + batch.num_rows > capacity:
            raise ColumnError(f"more rows than the {capacity} counted")
        for name, target in floats.items():
            target[filled:filled + batch.num_rows] = _float_values(batch.column(name), name, float_dtype)
        for name, chunks in others.items():
            chunks.append(convert[name](batch.column(name)))
        filled += batch.num_rows
    result: dict[str, np.ndarray | pd.Series] = {}
    for name in columns:
        if name in floats:
            # A view: the unused tail of the upper bound (CSV) costs no pages that were never written.
            result[name] = floats[name][:filled]
        else:
            chunks = others.pop(name)
            result[name] = _plain_column(chunks, _chunks_type(chunks, schema.field(name).type, name == key_column))
    # Arrow's allocator keeps freed batch memory for reuse; the records need it more than Arrow does.
    pa.default_memory_pool().release_unused()
    return result


def _allocate(rows: int, dtype: str) -> np.ndarray:
    """An array on memory mapped straight from the kernel, in ordinary pages.

    `np.empty` asks for transparent huge pages on arrays this large; on a busy machine the kernel
    compacts memory to find them on first write, which made filling the records several times slower.
    Pages are faulted in while being filled, as the next row group decodes in another thread.
    """
    size = max(rows, 1) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), dtype=dtype, count=rows)


def _open_batches(
    path: Path, columns: Sequence[str], float_columns: Sequence[str], float_dtype: str, batch_rows: int,
    parquet: bool, text_columns: Sequence[str] = (),
) -> tuple[int, pa.Schema, Iterator[pa.RecordBatch]]:
    """Row capacity (exact for Parquet, an upper bound for CSV), schema and record batches of `columns`."""
    if parquet:
        parquet_file = pq.ParquetFile(path)
        _require(parquet_file.schema_arrow.names, columns)
        return (parquet_file.metadata.num_rows, parquet_file.schema_arrow,
                row_group_batches(parquet_file, columns, batch_rows))
    header = _csv_header(path)
    _require(header, columns)
    # Projection and float types are applied while parsing: other columns are skipped, and a value that
    # is not a number fails in the parser rather than after type inference guessed from the first rows.
    options = pa_csv.ConvertOptions(
        include_columns=list(columns),
        column_types={**{name: _arrow_float(float_dtype) for name in float_columns},
                      **dict.fromkeys(text_columns, pa.string())},
    )
    reader = _translate_csv_errors(
        lambda: pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                                convert_options=options),
        header, float_columns,
    )
    return count_lines(path), reader.schema, _csv_batches(reader, header, float_columns)


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _csv_batches(reader, header: list[str], float_columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    while (batch := _translate_csv_errors(lambda: next(reader, None), header, float_columns)) is not None:
        yield batch


def _translate_csv_errors(action, header: list[str], float_columns: Sequence[str]):
    """Run `action`; a parser error about one column's value becomes a ColumnError naming that column."""
    try:
        return action()
    except pa.ArrowInvalid as error:
        found = _CSV_CONVERSION_ERROR.search(str(error))
        if found is None or int(found["index"]) >= len(header):
            raise
        name = header[int(found["index"])]
        problem = "is not numeric" if name in float_columns else f"is not all {found['type']}"
        raise ColumnError(f"column {name} {problem} ({found['detail'].strip()})", column=name) from None


def _require(available: Sequence[str], columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in available]
    if missing:
        raise ColumnError(f"no column {', '.join(missing)}", missing=missing)


def _arrow_float(float_dtype: str) -> pa.DataType:
    return pa.float32() if float_dtype == "float32" else pa.float64()


def _float_values(array: pa.Array, name: str, float_dtype: str) -> np.ndarray:
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_null(array.type)):
        raise ColumnError(f"column {name} is not numeric (type {array.type})", column=name)
    target = _arrow_float(float_dtype)
    if array.type != target:
        array = pc.cast(array, target, safe=False)
    return array.to_numpy(zero_copy_only=False)


def _plain_column(chunks: list[pa.Array], data_type: pa.DataType) -> np.ndarray | pd.Series:
    column = pa.chunked_array(chunks, type=data_type)
    if (pa.types.is_integer(data_type) or pa.types.is_floating(data_type)) and column.null_count == 0:
        return column.to_numpy()
    # Strings become pandas' Arrow-backed `str` dtype, never a column of Python objects.
    return column.to_pandas()


def _copy(array: pa.Array) -> pa.Array:
    # A copy: a batch decoded from one IPC message shares a single buffer among its columns.
    return pa.concat_arrays([array])


def _as_text(array: pa.Array) -> pa.Array:
    """A category column's batch as text: strings as they are, numbers as their plain text (1.0 is "1")."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _copy(array)
    return pc.cast(array, pa.string())


def _as_key(array: pa.Array) -> pa.Array:
    """An id batch: text whose every value is an integer written plainly that fits int64 becomes int64 (ids
    read from numbers and from text then agree); other text stays text, other types stay as stored."""
    if not pa.types.is_string(array.type):
        return _copy(array)
    if pc.all(pc.match_substring_regex(array, _PLAIN_INTEGER)).as_py() is not False:
        try:
            return pc.cast(array, pa.int64())
        except pa.ArrowInvalid:  # beyond int64: kept exact as text
            pass
    return _copy(array)


def _chunks_type(chunks: list[pa.Array], declared: pa.DataType, key: bool) -> pa.DataType:
    """The type of a column's batches: the declared one, unless they were converted while reading. Id batches
    that ended up of both types are all made text (an int64 batch's text is exactly what was written)."""
    types = {chunk.type for chunk in chunks}
    if key and len(types) > 1:
        chunks[:] = [pc.cast(chunk, pa.string()) for chunk in chunks]
        return pa.string()
    return types.pop() if len(types) == 1 else declared
