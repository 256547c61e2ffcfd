"""Staging tables kept as CSV or Parquet files, queried with BigQuery SQL through duckdb."""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from sandbox.results import BATCH_ROWS, NUMERIC, open_result, rest_fields, write_result

logger = logging.getLogger(__name__)

STAGING_FOLDER = "staging"
METADATA_COLUMNS = ("mdmId", "mdmCounterForEntity", "mdmDeleted", "mdmLastUpdated")
_CSV_METADATA_TYPES = {"mdmId": "VARCHAR", "mdmCounterForEntity": "BIGINT", "mdmDeleted": "BOOLEAN"}


class QueryError(ValueError):
    """The query cannot be translated or run."""


@dataclass(frozen=True)
class QueryResult:
    """A query's destination table: its file, REST schema and rows."""

    path: Path

    @cached_property
    def table(self) -> pa.Table:
        return open_result(self.path)

    @property
    def fields(self) -> list[dict[str, str]]:
        return rest_fields(self.table.schema)

    @property
    def rows(self) -> list[tuple]:
        """Every row as Python values (for small results)."""
        return list(zip(*(column.to_pylist() for column in self.table.columns)))


def staging_path(folder: Path, connector: str, staging: str, suffix: str = ".csv") -> Path:
    """Where staging `connector/staging` lives: `staging/<connector>/<staging>.csv` (or `.parquet`)."""
    return folder / STAGING_FOLDER / connector / f"{staging}{suffix}"


def stage_records(folder: Path, connector: str, staging: str, frame: pd.DataFrame, file_format: str = "csv") -> Path:
    """Write records, with their Carol metadata columns, as staging table `stg_<connector>_<staging>`.

    Args:
        folder: the sandbox folder.
        connector: the connector name.
        staging: the staging name.
        frame: the records with the Carol metadata columns.
        file_format: "csv" (column types inferred when read, as from a connector delivering text) or
            "parquet" (the frame's own types: text stays STRING, `decimal.Decimal` becomes NUMERIC).

    Raises:
        ValueError: a Carol metadata column is missing.
    """
    missing = [name for name in METADATA_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"staging records lack Carol metadata columns: {', '.join(missing)}")
    path = _fresh_staging_path(folder, connector, staging, f".{file_format}")
    temporary = path.with_suffix(".part")
    if file_format == "parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.cast(_carol_types(table.schema)), temporary)
    else:
        frame.to_csv(temporary, index=False)
    temporary.replace(path)
    return path


def stage_file(folder: Path, connector: str, staging: str, source: Path, id_column: str) -> Path:
    """Stage a Parquet file of any size (bench/generate.py output) batch by batch, adding Carol metadata.

    Each record becomes the one current version of `mdmId` = its `id_column` value.

    Raises:
        ValueError: the file holds no records or no `id_column`.
    """
    parquet = pq.ParquetFile(source)
    if id_column not in parquet.schema_arrow.names:
        raise ValueError(f"{source} has no column {id_column}")
    path = _fresh_staging_path(folder, connector, staging, ".parquet")
    temporary = path.with_suffix(".part")
    updated = pa.scalar(datetime.datetime.now(datetime.timezone.utc), pa.timestamp("us", tz="UTC"))
    writer = None
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        batch = batch.append_column("mdmId", pc.cast(batch.column(id_column), pa.string()))
        for name, value in (("mdmCounterForEntity", pa.scalar(1)), ("mdmDeleted", pa.scalar(False)),
                            ("mdmLastUpdated", updated)):
            batch = batch.append_column(name, pa.repeat(value, batch.num_rows))
        writer = writer or pq.ParquetWriter(temporary, batch.schema)
        writer.write_batch(batch)
    if writer is None:
        raise ValueError(f"{source} holds no records")
    writer.close()
    temporary.replace(path)
    return path


def _fresh_staging_path(folder: Path, connector: str, staging: str, suffix: str) -> Path:
    """The staging file to write; a file of the other format for the same table is removed."""
    for other in (".csv", ".parquet"):
        staging_path(folder, connector, staging, other).unlink(missing_ok=True)
    path = staging_path(folder, connector, staging, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_METADATA_TYPES = {"mdmId": pa.string(), "mdmCounterForEntity": pa.int64(), "mdmDeleted": pa.bool_()}


def _carol_types(schema: pa.Schema) -> pa.Schema:
    """Metadata columns in Carol's types (even when all NULL), decimals as NUMERIC, decimal128(38, 9)."""
    return pa.schema([
        field.with_type(_METADATA_TYPES.get(field.name, NUMERIC if pa.types.is_decimal(field.type) else field.type))
        for field in schema])


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


def run_query(folder: Path, sql: str, table_id: str | None = None) -> QueryResult:
    """Run BigQuery SQL over the staging files (read afresh for every query) into a temporary table.

    Args:
        folder: the sandbox folder.
        sql: the query, in BigQuery's dialect.
        table_id: the destination table's name; a new anonymous one when None.

    Raises:
        QueryError: the query is invalid or names a table that does not exist.
    """
    translated = translate_query(sql)
    logger.info("query: %s", translated)
    with duckdb.connect() as connection:
        for table, path in staging_tables(folder).items():
            connection.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM {_reader_of(path)}")
        try:
            batches = connection.execute(translated).fetch_record_batch(BATCH_ROWS)
            path = write_result(folder, table_id or f"anon{uuid.uuid4().hex}", batches)
        except duckdb.Error as error:
            raise QueryError(str(error).splitlines()[0]) from None
    return QueryResult(path)


def _reader_of(path: Path) -> str:
    """duckdb's reader of a staging file; CSV metadata columns get the types Carol gives them."""
    if path.suffix == ".parquet":
        return f"read_parquet('{path.as_posix()}')"
    return f"read_csv('{path.as_posix()}', types={_CSV_METADATA_TYPES})"
