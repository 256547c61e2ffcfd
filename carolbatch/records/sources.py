"""Reading and validating the records a model is trained on."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from carolbatch.records.values import (
    ValueProblem,
    category_values,
    first_infinite,
    locate_unreadable,
    missing_columns_message,
    name_record,
    numeric_values,
)
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
    """Validated records: an id column (when there is one), float features (NaN where blank) or text
    categories, and the target: floats, or text labels. `facts`: blanks per numeric feature (`imputed_values`, imputed by the model)
    and records left out for lack of a target (`records_without_target`), for the log and the report."""

    frame: pd.DataFrame
    source: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self):
        # Stored as plain arrays, one per column: joblib writes and reads their bytes directly, and
        # loading builds no consolidated block (which would copy every float column once more).
        columns = {name: _column_payload(self.frame[name]) for name in self.frame.columns}
        return (_rebuild_records, (columns, self.source, self.facts))


def _column_payload(column: pd.Series) -> np.ndarray | pd.Series:
    return column.to_numpy() if isinstance(column.dtype, np.dtype) else column


def _rebuild_records(columns: dict[str, Any], source: str, facts: dict[str, Any] | None = None) -> Records:
    return Records(frame=_frame_of(columns), source=source, facts=facts or {})


def _frame_of(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame over the given arrays without copying or consolidating them."""
    length = len(next(iter(columns.values()))) if columns else 0
    return pd.DataFrame(columns, index=pd.RangeIndex(length), copy=False)


def read_records(
    path: Path, columns: Sequence[str], float_columns: Sequence[str] = (), float_dtype: str = "float64",
    optional_columns: Sequence[str] = (), expected_fingerprint: str | None = None, id_column: str | None = None,
    native_columns: Sequence[str] = (),
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
        id_column: the record key, read exactly whatever its size (see `read_columns`); it names the record of
            a value that is not a number (else its line). Other columns not in `float_columns` are read as text.
        native_columns: columns read in the file's own types instead (a target: numbers, or labels as text).

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
        frame = _read_pinned(path, pinned, columns, float_columns, float_dtype, optional_columns, id_column,
                             native_columns)
        if expected_fingerprint is not None:
            changed = f"file:{digest_file(pinned).sha256}" != expected_fingerprint
            after = os.fstat(handle.fileno())
            if changed or (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                raise DataChangedError(f"data file {path}: the data file changed while it was read; run again")
    return frame


def _read_pinned(path: Path, pinned: Path, columns, float_columns, float_dtype, optional_columns,
                 id_column: str | None = None, native_columns: Sequence[str] = ()) -> pd.DataFrame:
    parquet = is_parquet(path)
    try:
        available = list_columns(pinned, parquet) if optional_columns else []
        present = [name for name in optional_columns if name not in columns and name in available]
        # Columns other than numbers are categories, read as text exactly as written; the id exact at any size.
        text = [name for name in columns if name not in (*float_columns, *native_columns) and name != id_column]
        key = id_column if id_column in columns else None
        return _frame_of(read_columns(pinned, [*columns, *present], float_columns, float_dtype, parquet=parquet,
                                      text_columns=text, key_column=key))
    except ColumnError as error:
        raise RecordsError(_column_error_message(path, pinned, parquet, error, id_column)) from None
    except UnicodeDecodeError:
        raise RecordsError(f"data file {path} is not UTF-8 text (a compressed file or another encoding?)") from None
    except (pa.ArrowInvalid, OSError) as error:
        raise RecordsError(f"data file {path} cannot be read: {str(error).splitlines()[0]}") from None


def _column_error_message(path: Path, pinned: Path, parquet: bool, error: ColumnError, id_column: str | None
                          ) -> str:
    """A column error in words that help: the table's columns for a missing one, the record and the value for
    a value that is not a number."""
    source = f"data file {path}"
    if error.missing:
        return missing_columns_message(source, error.missing, list_columns(pinned, parquet))
    if error.column is not None:
        try:
            return f"{source}: {locate_unreadable(pinned, parquet, error.column, id_column, str(path))}"
        except (pa.ArrowInvalid, OSError, KeyError):
            pass
    return f"{source}: {error}"


def validate_records(
    frame: pd.DataFrame,
    feature_columns: Sequence[str],
    target_column: str,
    id_column: str | None,
    source: str,
    float_dtype: str = "float64",
    extra_columns: Sequence[str] = (),
    categorical_columns: Sequence[str] = (),
) -> Records:
    """Check that the records can train a model and convert them to float features and text categories.

    Blank numeric features stay NaN (the model imputes them) and are counted; records without a target are
    left out and counted.

    Args:
        frame: the raw records (any column types).
        feature_columns: input columns: numbers, except `categorical_columns`.
        target_column: column to predict: numbers become floats, other values text labels.
        id_column: row key, kept as is; None or empty when the records have none.
        source: where the records came from, for messages.
        float_dtype: "float64" or "float32", the type of numeric features and target.
        extra_columns: columns kept as floats when present and numeric, else left out (the deployed
            model's features, so it can be scored on the same rows).
        categorical_columns: the features holding categories, kept as text (numbers as their text).

    Returns:
        Records; numeric columns already of their type are shared, not copied, unless records are left out.

    Raises:
        RecordsError: a column is missing, a numeric column is not numeric or holds an infinite value, no
            record has a target, or there are too few records.
    """
    id_column = id_column or None
    missing = [name for name in (id_column, *feature_columns, target_column) if name and name not in frame.columns]
    if missing:
        raise RecordsError(missing_columns_message(source, missing, list(frame.columns)))
    ids = frame[id_column].to_numpy() if id_column else None
    converted = {id_column: _column_payload(frame[id_column])} if id_column else {}
    try:
        for name in feature_columns:
            converted[name] = (category_values(frame[name]) if name in categorical_columns
                               else _finite_or_blank(frame[name], name, ids, id_column, source, float_dtype))
        converted[target_column] = _target_values(frame[target_column], target_column, ids, id_column, source,
                                                  float_dtype)
    except ValueProblem as problem:
        raise RecordsError(f"{source}: {problem}") from None
    _add_extra_columns(converted, frame, extra_columns, source, float_dtype)
    return _complete_records(converted, feature_columns, categorical_columns, target_column, id_column, source)


def _finite_or_blank(column: pd.Series, name: str, ids, id_column: str | None, source: str, float_dtype: str
                     ) -> np.ndarray:
    values = numeric_values(column, name, np.dtype(float_dtype))
    position = first_infinite(values)
    if position is not None:
        raise ValueProblem(f"column {name} holds {float(values[position])!r} in "
                           f"{name_record(ids, id_column, position, source)}: infinite values cannot train a model")
    return values


def _target_values(column: pd.Series, name: str, ids, id_column: str | None, source: str, float_dtype: str
                   ) -> np.ndarray:
    """The target as the source holds it: numbers as floats (a regressor's target, or a classifier's numbered
    classes), anything else as text labels; blanks as NaN. The model decides what it needs (training/labels.py)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _finite_or_blank(column, name, ids, id_column, source, float_dtype)
    return category_values(column)


def _add_extra_columns(converted: dict, frame: pd.DataFrame, extra_columns: Sequence[str], source: str,
                       float_dtype: str) -> None:
    for name in extra_columns:
        try:
            if name not in converted:
                converted[name] = numeric_values(frame[name], name, np.dtype(float_dtype))
        except (KeyError, ValueProblem):
            logger.warning("%s: column %s of the deployed model is missing or unusable", source, name)


def _complete_records(converted: dict[str, Any], feature_columns: Sequence[str], categorical_columns: Sequence[str],
                      target_column: str, id_column: str | None, source: str) -> Records:
    """The records that have a target, with the count of those left out and of the blanks per numeric feature."""
    has_target = ~pd.isna(converted[target_column])
    left_out = int(len(has_target) - np.count_nonzero(has_target))
    if left_out == len(has_target):
        raise RecordsError(f"{source}: target column {target_column} has no value in any of its {left_out} records")
    if left_out:
        logger.warning("%s: %d records have no value in target column %s and are left out", source, left_out,
                       target_column)
        converted = {name: _keep_rows(values, has_target) for name, values in converted.items()}
    kept = len(has_target) - left_out
    if kept < MIN_RECORDS:
        raise RecordsError(f"{source} has {kept} records with a target; at least {MIN_RECORDS} are needed to split")
    if id_column:
        _check_ids(pd.Series(converted[id_column], copy=False), id_column, source)
    blanks = {name: int(np.count_nonzero(np.isnan(converted[name])))
              for name in feature_columns if name not in categorical_columns}
    imputed = {name: count for name, count in blanks.items() if count}
    for name, count in imputed.items():
        logger.info("%s: column %s has %d blank values; the model imputes them (median of the train rows)",
                    source, name, count)
    facts = {"imputed_values": imputed, "records_without_target": left_out}
    return Records(frame=_frame_of(converted), source=source, facts=facts)


def _keep_rows(values: np.ndarray | pd.Series, keep: np.ndarray) -> np.ndarray | pd.Series:
    return values[keep].reset_index(drop=True) if isinstance(values, pd.Series) else values[keep]


def _check_ids(ids: pd.Series, id_column: str, source: str) -> None:
    """Every record needs its own key: the report, the split and Carol's staging all go by it."""
    missing = int(ids.isna().sum())
    if missing:
        raise RecordsError(f"{source}: id column {id_column} has {missing} missing values")
    if not pd.api.types.is_numeric_dtype(ids):
        empty = int((ids.astype(str).str.strip() == "").sum())
        if empty:
            raise RecordsError(f"{source}: id column {id_column} has {empty} empty values")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise RecordsError(f"{source}: id column {id_column} has {len(duplicated)} duplicate values "
                           f"(first: {duplicated.iloc[0]})")
