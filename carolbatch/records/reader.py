"""One reader for a declared data source (a `DataFile` or `StagingTable` setting), in either mode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from carolbatch.planning import fingerprint_parameter
from carolbatch.records.sources import DataChangedError, RecordsError, read_records
from carolbatch.records.staging import read_staging_records


def read_source(task, file_setting: str | None, table_setting: str | None, columns: Sequence[str],
                numeric_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The named columns of the source a task declares: the data file of `file_setting` in local mode, the
    staging table of `table_setting` in Carol mode (a task declares both to run in both).

    The file's bytes read must be those fingerprinted at start-up (else the run stops: run again). Use it in a
    task's `easy_run`; the task declares the settings with `setting_parameter`, so the source is part of its
    identity.

    Args:
        task: the task reading (an `AppTask` declaring the setting).
        file_setting: a `DataFile` setting of the task, read in local mode (None: the task reads only in Carol).
        table_setting: a `StagingTable` setting of the task, read in Carol mode (None: only locally).
        columns: the columns to read, the key first (staging rows are ordered by it); others are skipped.
        numeric_columns: the columns converted to float64 (a blank is NaN); the others are read as they are
            (text in Carol mode).

    Returns:
        One column per name in `columns`, in that order.

    Raises:
        RecordsError: the mode's setting is not given or unset, the file is missing or unreadable, the table
            is unknown, or a column is missing (the message lists the source's columns).
    """
    setting = table_setting if task.carol_mode else file_setting
    value = getattr(task, setting) if setting else None
    if value is None:
        mode = "Carol mode" if task.carol_mode else "local mode"
        raise RecordsError(f"{type(task).__name__} reads no source in {mode}: "
                           f"{'setting ' + setting + ' is unset' if setting else 'no setting of its kind given'}")
    try:
        return _read(task, setting, value, columns, numeric_columns)
    except DataChangedError:
        raise
    except RecordsError as error:
        raise RecordsError(f"setting {setting}: {error}") from None


def _read(task, setting: str, value: str, columns: Sequence[str], numeric_columns: Sequence[str]) -> pd.DataFrame:
    if not task.carol_mode:
        # The key (the first column) exactly as written, whole numbers as integers; the others but numbers as text.
        return read_records(Path(value), list(columns), list(numeric_columns),
                            expected_fingerprint=getattr(task, fingerprint_parameter(setting)), id_column=columns[0])
    kind = getattr(type(task), setting).data_source
    connector, staging = kind.address(value, kind.connector_setting and getattr(task, kind.connector_setting))
    return read_staging_records(task.run_context().bigquery_reader(), connector, staging, list(columns), "float64",
                                numeric_columns=list(numeric_columns))
