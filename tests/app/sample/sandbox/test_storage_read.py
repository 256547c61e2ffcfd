"""The sandbox's BigQuery Storage Read API and staging column types, through the real Google clients."""

from __future__ import annotations

import decimal

import grpc
import pandas as pd
import pyarrow as pa
import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud.bigquery_storage import BigQueryReadClient, types
from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport
from pycarol.carolina import Carolina

from carolbatch.storage.carol_credentials import credentials_from_environment
from carolbatch.storage.carol_platform import connect_carol, open_bigquery
from carolbatch.records.staging_sql import build_staging_query
from bench.generate import write_records
from sandbox.server import start_sandbox
from sandbox.staging import run_query, stage_file, stage_records
from sandbox.carol_api import AccessTokens
from sandbox.storage_read import DEFAULT_STREAMS, StorageReadServer, set_storage_read_api, set_storage_read_streams

ROWS = 3000
BIG_ROWS = 400_000  # several responses a stream


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(tmp_path_factory.mktemp("storage_read"))
    frame = pd.DataFrame({
        "sample": range(ROWS), "x": [index / 4 for index in range(ROWS)],
        "mdmId": [f"r{index}" for index in range(ROWS)], "mdmCounterForEntity": 1,
        "mdmDeleted": [None] * ROWS, "mdmLastUpdated": "2026-01-01 00:00:00"})
    stage_records(running.folder, "conn", "plain", frame)
    typed = frame.assign(x=[repr(value) for value in frame["x"]],
                         y=[decimal.Decimal(index) / 4 for index in range(ROWS)])
    stage_records(running.folder, "conn", "typed", typed, file_format="parquet")
    stage_file(running.folder, "conn", "big", write_records(tmp_path_factory.mktemp("big") / "big.parquet", BIG_ROWS),
               "sample")
    yield running
    running.stop()


@pytest.fixture
def reader(sandbox, monkeypatch):
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Carolina, "token", None)
    set_storage_read_api(sandbox.folder, True)
    environment = sandbox.environment()
    return open_bigquery(connect_carol(credentials_from_environment(environment)), environment)


def read_all(reader, sql: str) -> tuple[pa.Table, str]:
    stream = reader.stream(sql)
    return pa.Table.from_batches(list(stream.batches), schema=stream.schema), stream.route


def test_query_results_stream_through_the_storage_read_api_with_null_mdm_deleted(reader):
    table, route = read_all(reader, build_staging_query("conn", "plain", ["sample", "x"], ["x"]))
    assert route == "Storage Read API"
    table = table.sort_by("sample")
    assert table.column("sample").to_pylist() == list(range(ROWS))
    assert table.column("x").to_pylist() == [index / 4 for index in range(ROWS)]


@pytest.mark.parametrize("offered", [1, 3, 7])
def test_the_server_splits_a_result_into_the_streams_it_offers_read_at_once_each_row_once(sandbox, reader, offered):
    set_storage_read_streams(sandbox.folder, offered)
    try:
        before = sandbox.storage_read.counters.snapshot().get("storage read streams", 0)
        stream = reader.stream(build_staging_query("conn", "plain", ["sample", "x"], ["x"]))
        table = pa.Table.from_batches(list(stream.batches), schema=stream.schema)
    finally:
        set_storage_read_streams(sandbox.folder, DEFAULT_STREAMS)
    assert stream.streams == offered == sandbox.storage_read.counters.snapshot()["storage read streams"] - before
    assert sorted(table.column("sample").to_pylist()) == list(range(ROWS)) and stream.total_rows == ROWS


def test_several_streams_are_read_at_once(sandbox, reader):
    stream = reader.stream(build_staging_query("conn", "big", ["sample", "CRIM"], ["CRIM"]))
    assert stream.streams == DEFAULT_STREAMS and sum(batch.num_rows for batch in stream.batches) == BIG_ROWS
    assert sandbox.storage_read.counters.snapshot()["storage read streams at once"] > 1


def test_refused_storage_api_falls_back_to_identical_rest_pages(sandbox, reader):
    sql = build_staging_query("conn", "plain", ["sample", "x"], ["x"])
    streamed, _ = read_all(reader, sql)
    set_storage_read_api(sandbox.folder, False)
    paged, route = read_all(reader, sql)
    assert route == "REST result pages"
    assert paged.sort_by("sample").equals(streamed.sort_by("sample"))


def test_string_and_numeric_columns_keep_their_bigquery_types_and_cast_to_float64(sandbox, reader):
    fields = run_query(sandbox.folder, "SELECT x, y, mdmDeleted FROM stg_conn_typed LIMIT 1").fields
    assert [field["type"] for field in fields] == ["STRING", "NUMERIC", "BOOLEAN"]
    table, _ = read_all(reader, build_staging_query("conn", "typed", ["sample", "x", "y"], ["x", "y"]))
    table = table.sort_by("sample")
    assert table.column("x").to_pylist() == table.column("y").to_pylist() == [index / 4 for index in range(ROWS)]


def test_calls_without_an_access_token_are_refused(sandbox):
    channel = grpc.insecure_channel(sandbox.storage_read.address)
    client = BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
    with pytest.raises(api_exceptions.Unauthenticated):
        client.create_read_session(parent="projects/p", read_session=types.ReadSession(
            table="projects/p/datasets/d/tables/t", data_format=types.DataFormat.ARROW))


def test_views_cannot_be_read_and_streams_resume_from_an_offset(sandbox, reader):
    client = reader.read_client()
    project = reader.client.project
    with pytest.raises(api_exceptions.InvalidArgument, match="view"):
        client.create_read_session(parent=f"projects/{project}", read_session=types.ReadSession(
            table=f"projects/{project}/datasets/d/tables/stg_conn_plain", data_format=types.DataFormat.ARROW))
    rows = reader.client.query(build_staging_query("conn", "plain", ["sample"])).result()
    session = client.create_read_session(parent=f"projects/{project}", max_stream_count=1, read_session=types.ReadSession(
        table=rows._table.to_bqstorage(), data_format=types.DataFormat.ARROW))
    whole = client.read_rows(session.streams[0].name).to_arrow(session)
    resumed = client.read_rows(session.streams[0].name, offset=ROWS - 5).to_arrow(session)
    assert resumed.column("sample").to_pylist() == whole.column("sample").to_pylist()[-5:]


def test_a_generated_file_is_staged_with_carol_metadata(sandbox, tmp_path):
    generated = write_records(tmp_path / "records.parquet", 1200)
    stage_file(sandbox.folder, "bench", "records", generated, "sample")
    result = run_query(sandbox.folder, "SELECT COUNT(DISTINCT mdmId) AS ids, COUNTIF(mdmDeleted) AS deleted, "
                                       "MAX(mdmCounterForEntity) AS counter FROM stg_bench_records")
    assert result.rows == [(1200, 0, 1)]


def test_a_second_server_cannot_share_the_port(sandbox):
    # gRPC would otherwise bind it too (SO_REUSEPORT) and take half of the first sandbox's connections.
    with pytest.raises(OSError, match="in use"):
        StorageReadServer(sandbox.folder, AccessTokens(), sandbox.storage_read.port)
