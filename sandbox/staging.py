"""Staging tables kept as CSV or Parquet files, queried with BigQuery SQL through duckdb."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

logger = logging.getLogger(__name__)

STAGING_FOLDER = "staging"
METADATA_COLUMNS = ("mdmId", "mdmCounterForEntity", "mdmDeleted", "mdmLastUpdated")


class QueryError(ValueError):
    """The query cannot be translated or run."""


@dataclass(frozen=True)
class QueryResult:
    """Column names with BigQuery types, and the rows as Python values."""

    fields: list[dict[str, str]]
    rows: list[tuple]


def staging_path(folder: Path, connector: str, staging: str) -> Path:
    """Where staging `connector/staging` lives: `staging/<connector>/<staging>.csv` (or `.parquet`)."""
    return folder / STAGING_FOLDER / connector / f"{staging}.csv"


def stage_records(folder: Path, connector: str, staging: str, frame: pd.DataFrame) -> Path:
    """Write records, with their Carol metadata columns, as staging table `stg_<connector>_<staging>`.

    Raises:
        ValueError: a Carol metadata column is missing.
    """
    missing = [name for name in METADATA_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"staging records lack Carol metadata columns: {', '.join(missing)}")
    path = staging_path(folder, connector, staging)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    frame.to_csv(temporary, index=False)
    temporary.replace(path)
    return path


def with_metadata(frame: pd.DataFrame, id_column: str, updated: datetime.datetime) -> pd.DataFrame:
    """Records as a fresh Carol staging holds them: each once, counter 1, not deleted."""
    return frame.assign(
        mdmId=[f"{value}" for value in frame[id_column]], mdmCounterForEntity=1, mdmDeleted=False,
        mdmLastUpdated=updated.strftime("%Y-%m-%d %H:%M:%S"),
    )


def staging_tables(folder: Path) -> dict[str, Path]:
    """`{stg_<connector>_<staging>: file}` for every CSV or Parquet file under `staging/`."""
    root = folder / STAGING_FOLDER
    files = sorted([*root.glob("*/*.csv"), *root.glob("*/*.parquet")]) if root.is_dir() else []
    return {f"stg_{path.parent.name}_{path.stem}": path for path in files}


def translate_query(sql: str) -> str:
    """BigQuery SQL as duckdb SQL, with `project.dataset.` qualifiers dropped (one dataset here).

    Raises:
        QueryError: sqlglot cannot parse the query.
    """
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"cannot parse query: {error}") from None
    for table in tree.find_all(exp.Table):
        table.set("db", None)
        table.set("catalog", None)
    return tree.sql(dialect="duckdb")


def run_query(folder: Path, sql: str) -> QueryResult:
    """Run BigQuery SQL over the staging files, read afresh for every query.

    Raises:
        QueryError: the query is invalid or names a table that does not exist.
    """
    translated = translate_query(sql)
    logger.info("query: %s", translated)
    with duckdb.connect() as connection:
        for table, path in staging_tables(folder).items():
            reader = "read_parquet" if path.suffix == ".parquet" else "read_csv_auto"
            connection.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM {reader}('{path.as_posix()}')")
        try:
            cursor = connection.execute(translated)
        except duckdb.Error as error:
            raise QueryError(str(error).splitlines()[0]) from None
        fields = [{"name": name, "type": bigquery_type(str(kind)), "mode": "NULLABLE"}
                  for name, kind, *_ in cursor.description]
        return QueryResult(fields=fields, rows=cursor.fetchall())


def bigquery_type(duckdb_type: str) -> str:
    """The BigQuery column type closest to a duckdb one."""
    name = duckdb_type.upper()
    if name == "BOOLEAN":
        return "BOOLEAN"
    if name.endswith("INT") or name in ("INTEGER", "BIGINT", "HUGEINT", "UHUGEINT"):
        return "INTEGER"
    if name in ("FLOAT", "DOUBLE", "REAL") or name.startswith("DECIMAL"):
        return "FLOAT"
    if name.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return {"DATE": "DATE", "BLOB": "BYTES"}.get(name, "STRING")


def encode_value(value: Any, int64_timestamps: bool) -> str | None:
    """A cell as the BigQuery REST API sends it: text, or None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        micros = round(value.timestamp() * 1_000_000)
        return str(micros) if int64_timestamps else repr(micros / 1_000_000)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)
