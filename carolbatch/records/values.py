"""The values of one column checked for training: numbers (blanks allowed, counted), categories as text, and the
record a bad value sits in, named by its id or its line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


class ValueProblem(ValueError):
    """A value that cannot train a model; the message names the column, the record and the value."""


def name_record(ids: np.ndarray | pd.Series | None, id_column: str | None, position: int, source: str) -> str:
    """How a message names the record at `position`: by its id, else by its line in a CSV file (the header is
    line 1) or its row in another source."""
    if ids is not None and id_column:
        return f"record {id_column}={np.asarray(ids)[position]}"
    if source.lower().endswith(".csv"):
        return f"record at line {position + 2}"
    return f"record at row {position + 1}"


def numeric_values(column: pd.Series | np.ndarray, name: str, dtype: np.dtype) -> np.ndarray:
    """The column as `dtype` floats, blanks as NaN.

    Raises:
        ValueProblem: the column is not numeric (its type is named; `locate_unreadable` finds the record).
    """
    column = pd.Series(column, copy=False) if isinstance(column, np.ndarray) else column
    if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
        raise ValueProblem(f"column {name} is not numeric (type {column.dtype})")
    if column.dtype == dtype:
        return column.to_numpy()
    return column.to_numpy(dtype=dtype, na_value=np.nan)


def first_infinite(values: np.ndarray) -> int | None:
    """The position of the first infinite value, or None."""
    found = np.flatnonzero(np.isinf(values))
    return int(found[0]) if len(found) else None


def category_values(column: pd.Series | np.ndarray) -> np.ndarray:
    """The column as text categories, blanks (missing or empty text) as NaN, in an object array.

    Text is kept exactly as read (`01` is not `1`); numbers become their plain text as Arrow writes them, a
    whole float as an integer (1.0 is "1", as a CSV cell `1` reads in a column with a blank), so a file, a
    Parquet column of numbers and Carol's STRING cast give a model the same categories.
    """
    series = pd.Series(column, copy=False)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = pa.array(series.to_numpy(), from_pandas=True).cast(pa.string()).to_pandas()
    text = series.astype(object)
    present = (series.notna() & (text != "")).to_numpy()
    values = np.full(len(series), np.nan, dtype=object)
    values[present] = text[present].astype(str).to_numpy(dtype=object)
    return values


def locate_unreadable(path: Path, parquet: bool, column: str, id_column: str | None, source: str) -> str:
    """Where the first value of `column` that is not a number sits in a file, and the value, for a message.

    The column is read again as text (an error path only), with the id column when there is one.
    """
    names = [column, *([id_column] if id_column else [])]
    if parquet:
        table = pq.read_table(path, columns=names)
    else:
        options = pa_csv.ConvertOptions(include_columns=names, column_types=dict.fromkeys(names, pa.string()))
        table = pa_csv.read_csv(path, convert_options=options)
    text = pd.Series(table.column(column).to_pylist(), dtype=object)
    numbers = pd.to_numeric(text.where(text.astype(str).str.strip() != "", None), errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy() & text.notna().to_numpy()
                         & (text.astype(str).str.strip() != "").to_numpy())
    if not len(bad):
        return f"column {column} is not numeric"
    ids = table.column(id_column).to_pylist() if id_column else None
    where = name_record(np.array(ids, dtype=object) if ids is not None else None, id_column, int(bad[0]), source)
    return (f"column {column} is not numeric: it holds {text.iloc[bad[0]]!r} in {where} (setting "
            f"categorical_columns lists the features of text categories)")


def missing_columns_message(source: str, missing: Sequence[str], available: Sequence[str]) -> str:
    """A missing column named, with the table's columns and the settings that name columns."""
    return (f"{source} has no column {', '.join(missing)}; its columns are: {', '.join(map(str, available))} "
            f"(set feature_columns, categorical_columns, target_column and id_column to name yours; "
            f"id_column may be empty)")
