"""BigQuery SQL over a Carol staging table: its latest records, a failing value, a change probe."""

from __future__ import annotations

import re
from collections.abc import Sequence

from carolbatch.records.sources import RecordsError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def build_staging_query(connector: str, staging: str, columns: Sequence[str], float_columns: Sequence[str] = (),
                        text_columns: Sequence[str] = ()) -> str:
    """BigQuery SQL reading the latest, non-deleted version of each staging record, in no particular order.

    No `ORDER BY`: BigQuery would sort the whole result on one worker, and google-cloud-bigquery reads an
    ordered result through a single Storage Read API stream; the records are ordered where they arrive.

    Args:
        connector: the staging table's connector.
        staging: the staging name.
        columns: the columns to read; the first is the record id.
        float_columns: columns cast to FLOAT64 in BigQuery (`SAFE_CAST`: a value that is not a number
            becomes NULL), so STRING and NUMERIC columns arrive as numbers.
        text_columns: columns cast to STRING (categories), whatever their type in the staging table.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging, *columns)
    selected = ", ".join(_select(name, float_columns, text_columns) for name in columns)
    return f"SELECT {selected} FROM {_latest_records(connector, staging)}"


def _select(name: str, float_columns: Sequence[str], text_columns: Sequence[str]) -> str:
    if name in float_columns:
        return f"SAFE_CAST(`{name}` AS FLOAT64) AS `{name}`"
    return f"CAST(`{name}` AS STRING) AS `{name}`" if name in text_columns else f"`{name}`"


def build_failed_values_query(connector: str, staging: str, id_column: str, column: str) -> str:
    """BigQuery SQL finding one record whose `column` holds a value (not NULL) that is not a finite number, as text.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging, id_column, column)
    number = f"SAFE_CAST(`{column}` AS FLOAT64)"
    return (
        f"SELECT CAST(`{id_column}` AS STRING) AS record, CAST(`{column}` AS STRING) AS value "
        f"FROM {_latest_records(connector, staging)} "
        f"WHERE `{column}` IS NOT NULL AND ({number} IS NULL OR IS_NAN({number}) OR IS_INF({number})) ORDER BY `{id_column}` LIMIT 1"
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


def build_staging_columns_query(connector: str, staging: str) -> str:
    """BigQuery SQL whose empty result carries the staging table's column names.

    Raises:
        RecordsError: a name is not a plain identifier (it is pasted into SQL).
    """
    _check_identifiers(connector, staging)
    return f"SELECT * FROM stg_{connector}_{staging} LIMIT 0"
