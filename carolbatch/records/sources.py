"""Reading and validating the records a model is trained on."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from carolbatch.storage.checksums import digest_file
from carolbatch.storage.columnar import ColumnError, is_parquet, list_columns, read_columns

logger = logging.getLogger(__name__)

MIN_RECORDS = 10


class RecordsError(ValueError):
    """The records cannot be used for training."""


class DataChangedError(RecordsError):
    """The data file's bytes are not those fingerprinted at start-up: it changed during the run (run again)."""


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
    path: Path, columns: Sequence[str], float_columns: Sequence[str] = (), float_dtype: str = "float64",
    optional_columns: Sequence[str] = (), expected_fingerprint: str | None = None,
) -> pd.DataFrame:
    """Read the named columns of a CSV or Parquet file, streaming it in batches.

    Args:
        path: a `.csv` or `.parquet` file.
        columns: the columns to read; others in the file are skipped.
        float_columns: columns converted to `float_dtype` while reading (missing values become NaN),
            so the data is held once, already in the type training uses.
        float_dtype: "float64" or "float32".
        optional_columns: more columns read as they are, when the file has them.
        expected_fingerprint: the `file:<sha256>` the run was planned with; the bytes actually read
            must have it.

    Returns:
        The columns as a DataFrame, in the order given, one unconsolidated array per column.

    Raises:
        RecordsError: the file is missing, not a regular file, empty, not UTF-8 text (CSV) or unreadable, lacks a column, a
            float column is not numeric, or its bytes are not those fingerprinted (it changed meanwhile).
    """
    if not path.is_file():
        raise RecordsError(f"data file {path} {'is not a regular file' if path.exists() else 'not found'}")
    if path.stat().st_size == 0:
        raise RecordsError(f"data file {path} is empty")
    # Everything is read through one open descriptor: a file replaced meanwhile does not mix into the read.
    with open(path, "rb") as handle:
        pinned = Path(f"/proc/self/fd/{handle.fileno()}")
        pinned = pinned if pinned.exists() else path
        before = os.fstat(handle.fileno())
        frame = _read_pinned(path, pinned, columns, float_columns, float_dtype, optional_columns)
        if expected_fingerprint is not None:
            changed = f"file:{digest_file(pinned).sha256}" != expected_fingerprint
            after = os.fstat(handle.fileno())
            if changed or (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                raise DataChangedError(f"data file {path}: the data file changed while it was read; run again")
    return frame


def _read_pinned(path: Path, pinned: Path, columns, float_columns, float_dtype, optional_columns) -> pd.DataFrame:
    parquet = is_parquet(path)
    try:
        available = list_columns(pinned, parquet) if optional_columns else []
        present = [name for name in optional_columns if name not in columns and name in available]
        return _frame_of(read_columns(pinned, [*columns, *present], float_columns, float_dtype, parquet=parquet))
    except ColumnError as error:
        raise RecordsError(f"data file {path}: {error}") from None
    except UnicodeDecodeError:
        raise RecordsError(f"data file {path} is not UTF-8 text (a compressed file or another encoding?)") from None
    except (pa.ArrowInvalid, OSError) as error:
        raise RecordsError(f"data file {path} cannot be read: {str(error).splitlines()[0]}") from None


def validate_records(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    id_column: str,
    source: str,
    float_dtype: str = "float64",
    extra_columns: Sequence[str] = (),
) -> Records:
    """Check that the records can train a model and convert them to float features.

    Args:
        frame: the raw records (any column types).
        feature_columns: numeric input columns.
        target_column: numeric column to predict.
        id_column: row key, kept as is.
        source: where the records came from, for messages.
        float_dtype: "float64" or "float32", the type of features and target.
        extra_columns: columns kept as floats when present, numeric and complete, else left out (the
            deployed model's features, so it can be scored on the same rows).

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
    _check_ids(frame[id_column], id_column, source)
    converted = {id_column: _column_payload(frame[id_column])}
    for name in numeric_columns:
        converted[name] = _numeric_column(frame[name], name, source, np.dtype(float_dtype))
    for name in extra_columns:
        try:
            if name not in converted:
                converted[name] = _numeric_column(frame[name], name, source, np.dtype(float_dtype))
        except (KeyError, RecordsError):
            logger.warning("%s: column %s of the deployed model is missing or unusable", source, name)
    return Records(frame=_frame_of(converted), source=source)


def _check_ids(ids: pd.Series, id_column: str, source: str) -> None:
    """Every record needs its own key: the report, the split and Carol's staging all go by it."""
    missing = int(ids.isna().sum())
    if missing:
        raise RecordsError(f"{source}: id column {id_column} has {missing} missing values")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise RecordsError(f"{source}: id column {id_column} has {len(duplicated)} duplicate values "
                           f"(first: {duplicated.iloc[0]})")


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
