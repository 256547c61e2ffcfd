"""Reading and validating the records a model is trained on."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from app.functions.storage.checksums import digest_file
from app.functions.storage.columnar import ColumnError, is_parquet, list_columns, read_columns

logger = logging.getLogger(__name__)

MIN_RECORDS = 10
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        RecordsError: the file is missing, empty, not UTF-8 text (CSV) or unreadable, lacks a column, a
            float column is not numeric, or its bytes are not those fingerprinted (it changed meanwhile).
    """
    if not path.is_file():
        raise RecordsError(f"data file {path} not found")
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


def fingerprint_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks so any size fits in memory.

    Raises:
        RecordsError: the file does not exist.
    """
    try:
        return digest_file(path).sha256
    except FileNotFoundError:
        raise RecordsError(f"data file {path} not found") from None


def file_stamp(path: Path) -> dict[str, Any]:
    """What changes whenever a file's content is rewritten: size, mtime and inode."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "inode": status.st_ino}


def fingerprint_with_cache(path: Path, cache: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A file's fingerprint, rehashing only when its size, mtime or inode changed since `cache`.

    Args:
        path: the data file.
        cache: `{absolute path: {"stamp": ..., "sha256": ...}}` from an earlier call (may be empty).

    Returns:
        `("file:<sha256>", updated cache)`; the input cache is not modified.

    Raises:
        RecordsError: the file does not exist.
    """
    if not path.is_file():
        raise RecordsError(f"data file {path} not found")
    key = str(path.resolve())
    stamp = file_stamp(path)
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return f"file:{entry['sha256']}", cache
    sha256 = fingerprint_file(path)
    return f"file:{sha256}", {**cache, key: {"stamp": stamp, "sha256": sha256}}


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


def fingerprint_staging(connector: str, staging: str, probe: pd.DataFrame) -> str:
    """Fingerprint of a staging table from the one-row result of its probe query."""
    if len(probe) != 1:
        raise RecordsError(f"staging {connector}/{staging}: probe returned {len(probe)} rows, expected 1")
    values = json.dumps(probe.iloc[0].astype(str).to_dict(), sort_keys=True)
    return f"staging:{connector}/{staging}:{hashlib.sha256(values.encode()).hexdigest()}"
