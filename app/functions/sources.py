"""Reading and validating the records a model is trained on."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from app.functions.storage.columnar import ColumnError, read_columns

logger = logging.getLogger(__name__)

MIN_RECORDS = 10
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RecordsError(ValueError):
    """The records cannot be used for training."""


@dataclass(frozen=True)
class Records:
    """Validated records: an id column, numeric features and a numeric target."""

    frame: pd.DataFrame
    source: str

    def __reduce__(self):
        # Stored as plain arrays, one per column: joblib writes and reads their bytes directly, and
        # loading builds no consolidated block (which would copy every float column once more).
        columns = {name: _column_payload(self.frame[name]) for name in self.frame.columns}
        return (_rebuild_records, (columns, self.source))


def _column_payload(column: pd.Series) -> np.ndarray | pd.Series:
    return column.to_numpy() if isinstance(column.dtype, np.dtype) else column


def _rebuild_records(columns: dict[str, Any], source: str) -> Records:
    return Records(frame=_frame_of(columns), source=source)


def _frame_of(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame over the given arrays without copying or consolidating them."""
    length = len(next(iter(columns.values()))) if columns else 0
    return pd.DataFrame(columns, index=pd.RangeIndex(length), copy=False)


def read_records(
    path: Path, columns: Sequence[str], float_columns: Sequence[str] = (), float_dtype: str = "float64"
) -> pd.DataFrame:
    """Read the named columns of a CSV or Parquet file, streaming it in batches.

    Args:
        path: a `.csv` or `.parquet` file.
        columns: the columns to read; others in the file are skipped.
        float_columns: columns converted to `float_dtype` while reading (missing values become NaN),
            so the data is held once, already in the type training uses.
        float_dtype: "float64" or "float32".

    Returns:
        The columns as a DataFrame, in the order given, one unconsolidated array per column.

    Raises:
        RecordsError: the file is missing, empty or unreadable, lacks a column, or a float column
            is not numeric.
    """
    if not path.is_file():
        raise RecordsError(f"data file {path} not found")
    if path.stat().st_size == 0:
        raise RecordsError(f"data file {path} is empty")
    try:
        return _frame_of(read_columns(path, columns, float_columns, float_dtype))
    except ColumnError as error:
        raise RecordsError(f"data file {path}: {error}") from None
    except (pa.ArrowInvalid, OSError) as error:
        raise RecordsError(f"data file {path} cannot be read: {str(error).splitlines()[0]}") from None


def build_staging_query(connector: str, staging: str, columns: Sequence[str], float_columns: Sequence[str] = ()) -> str:
    """BigQuery SQL reading the latest, non-deleted version of each staging record, ordered by the first column.

    Args:
        connector: the staging table's connector.
        staging: the staging name.
        columns: the columns to read; the first is the record id.
        float_columns: columns cast to FLOAT64 in BigQuery (`SAFE_CAST`: a value that is not a number
            becomes NULL), so STRING and NUMERIC columns arrive as numbers.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging, *columns)
    selected = ", ".join(
        f"SAFE_CAST(`{name}` AS FLOAT64) AS `{name}`" if name in float_columns else f"`{name}`" for name in columns)
    return f"SELECT {selected} FROM {_latest_records(connector, staging)} ORDER BY `{columns[0]}`"


def build_failed_values_query(connector: str, staging: str, id_column: str, column: str) -> str:
    """BigQuery SQL finding one record whose `column` is NULL or not a finite number, as text.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging, id_column, column)
    number = f"SAFE_CAST(`{column}` AS FLOAT64)"
    return (
        f"SELECT CAST(`{id_column}` AS STRING) AS record, CAST(`{column}` AS STRING) AS value "
        f"FROM {_latest_records(connector, staging)} "
        f"WHERE {number} IS NULL OR IS_NAN({number}) OR IS_INF({number}) ORDER BY `{id_column}` LIMIT 1"
    )


def _latest_records(connector: str, staging: str) -> str:
    return (
        f"(SELECT * EXCEPT(_rn) FROM ("
        f"SELECT *, ROW_NUMBER() OVER (PARTITION BY mdmId ORDER BY mdmCounterForEntity DESC) AS _rn "
        f"FROM stg_{connector}_{staging}) "
        f"WHERE _rn = 1 AND COALESCE(mdmDeleted, FALSE) = FALSE)"
    )


def _check_identifiers(*names: str) -> None:
    for name in names:
        if not _IDENTIFIER.match(name):
            raise RecordsError(f"{name!r} is not a valid staging or column name")


def validate_records(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    id_column: str,
    source: str,
    float_dtype: str = "float64",
) -> Records:
    """Check that the records can train a model and convert them to float features.

    Args:
        frame: the raw records (any column types).
        feature_columns: numeric input columns.
        target_column: numeric column to predict.
        id_column: row key, kept as is.
        source: where the records came from, for messages.
        float_dtype: "float64" or "float32", the type of features and target.

    Returns:
        Records with float features and target; columns already of that type are shared, not copied.

    Raises:
        RecordsError: a column is missing, not numeric or has missing values, or there are too few rows.
    """
    numeric_columns = [*feature_columns, target_column]
    missing = [name for name in (id_column, *numeric_columns) if name not in frame.columns]
    if missing:
        raise RecordsError(f"{source} has no column {', '.join(missing)}")
    if len(frame) < MIN_RECORDS:
        raise RecordsError(f"{source} has {len(frame)} records; at least {MIN_RECORDS} are needed to split")
    converted = {id_column: _column_payload(frame[id_column])}
    for name in numeric_columns:
        converted[name] = _numeric_column(frame[name], name, source, np.dtype(float_dtype))
    return Records(frame=_frame_of(converted), source=source)


def _numeric_column(column: pd.Series, name: str, source: str, dtype: np.dtype) -> np.ndarray:
    if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
        raise RecordsError(f"{source}: column {name} is not numeric (type {column.dtype})")
    if column.dtype == dtype:
        values = column.to_numpy()
    else:
        values = column.to_numpy(dtype=dtype, na_value=np.nan)
    missing = values.size - int(np.count_nonzero(np.isfinite(values)))
    if missing:
        raise RecordsError(f"{source}: column {name} has {missing} missing or infinite values")
    return values


def build_staging_probe_query(connector: str, staging: str) -> str:
    """BigQuery SQL returning what changes whenever the staging table's records change.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging)
    return (
        "SELECT COUNT(*) AS records, MAX(mdmCounterForEntity) AS counter, "
        "CAST(MAX(mdmLastUpdated) AS STRING) AS updated, "
        "COUNTIF(COALESCE(mdmDeleted, FALSE)) AS deleted "
        f"FROM stg_{connector}_{staging}"
    )
