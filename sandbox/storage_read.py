"""The BigQuery Storage Read API (`google.cloud.bigquery.storage.v1.BigQueryRead`) over insecure gRPC.

It reads the tables query jobs write their results to (sandbox/results.py), as BigQuery's does:
`CreateReadSession` splits a table into up to `max_stream_count` disjoint streams (when the client
leaves the count to the server, as many as the sandbox offers: `set_storage_read_streams`, 4 by
default) and returns its Arrow schema; `ReadRows` sends a stream's rows as Arrow record batches of at
most `RESPONSE_ROWS` rows (LZ4-compressed when the client asks), from a row offset so a client can
resume. The counters note the streams read and the most read at once. Calls need an OAuth access token (`authorization: Bearer ...`), as BigQuery's do.
Staging tables are views, which the API cannot read. The API can be refused, as in a project where
it is disabled, by `set_storage_read_api(folder, False)` (or `python -m sandbox --refuse-storage-read`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyarrow as pa
from google.cloud.bigquery_storage_v1 import types

from sandbox.carol_api import AccessTokens
from sandbox.counters import RequestCounters
from sandbox.https_server import HOST
from sandbox.results import open_result, result_path

SERVICE = "google.cloud.bigquery.storage.v1.BigQueryRead"
SWITCH_FILE = "bigquery.json"
DEFAULT_STREAMS = 4
# BigQuery's responses carry a few MB each, not a whole stream.
RESPONSE_ROWS = 1 << 14
_TABLE = re.compile(r"projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)")
_STREAM = re.compile(r"(?P<session>.+/sessions/[^/]+)/streams/(?P<index>\d+)")


def set_storage_read_api(folder: Path, enabled: bool) -> None:
    """Turn the Storage Read API on or off for a sandbox (running or not; read on every session)."""
    _write_switches(folder, storage_read_api=enabled)


def set_storage_read_streams(folder: Path, streams: int) -> None:
    """How many streams a session gets when the client leaves the count to the server (read on every session)."""
    _write_switches(folder, streams=max(1, streams))


def cut_storage_read_streams(folder: Path, rows: int) -> None:
    """Make each session's last stream end `rows` rows early without an error (0 heals): a short read."""
    _write_switches(folder, cut_rows=max(0, rows))


def storage_read_api_enabled(folder: Path) -> bool:
    return _switches(folder).get("storage_read_api", True)


def _switches(folder: Path) -> dict:
    path = folder / SWITCH_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_switches(folder: Path, **switches) -> None:
    (folder / SWITCH_FILE).write_text(json.dumps({**_switches(folder), **switches}))


@dataclass(frozen=True)
class _Session:
    table: pa.Table
    columns: list[str]
    ranges: list[tuple[int, int]]  # rows [start, stop) of each stream
    options: pa.ipc.IpcWriteOptions


class StorageReadServer:
    """The gRPC server on 127.0.0.1; `address` is what `BIGQUERY_STORAGE_EMULATOR_HOST` names."""

    def __init__(self, folder: Path, tokens: AccessTokens, port: int = 0, counters: RequestCounters | None = None) -> None:
        self.folder = folder
        self.tokens = tokens
        self.counters = counters or RequestCounters()
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self._reading = 0  # streams being read now
        # No SO_REUSEPORT (gRPC's default): a second sandbox on the same port would share its connections.
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1), ("grpc.so_reuseport", 0)]
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix="storage-read"),
                                   options=options)
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
            "CreateReadSession": grpc.unary_unary_rpc_method_handler(
                self.create_read_session, types.CreateReadSessionRequest.deserialize, types.ReadSession.serialize),
            "ReadRows": grpc.unary_stream_rpc_method_handler(
                self.read_rows, types.ReadRowsRequest.deserialize, types.ReadRowsResponse.serialize),
        })])
        try:
            self.port = self._server.add_insecure_port(f"{HOST}:{port}")
        except RuntimeError:
            raise OSError(f"BigQuery Storage Read API: port {port} on {HOST} is in use") from None
        self._server.start()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def stop(self) -> None:
        self._server.stop(grace=1).wait()

    def _check_token(self, context: grpc.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata())
        if not self.tokens.valid(metadata.get("authorization", "")):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.")

    def create_read_session(self, request, context: grpc.ServicerContext):
        self.counters.add("storage read sessions")
        self._check_token(context)
        requested = request.read_session
        found = _TABLE.fullmatch(requested.table)
        if not storage_read_api_enabled(self.folder):
            project = found["project"] if found else request.parent
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"BigQuery Storage API has not been used in project "
                          f"{project} before or it is disabled.")
        table = self._open_table(found, requested.table, context)
        columns = list(requested.read_options.selected_fields) or table.column_names
        unknown = [name for name in columns if name not in table.column_names]
        if unknown or requested.read_options.row_restriction:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported read options: {unknown or 'row_restriction'}")
        session_id = secrets.token_hex(8)
        name = f"{request.parent}/locations/us/sessions/{session_id}"
        offered = _switches(self.folder).get("streams", DEFAULT_STREAMS)
        ranges = _split_rows(table.num_rows, min(request.max_stream_count or offered, offered))
        compression = requested.read_options.arrow_serialization_options.buffer_compression
        options = pa.ipc.IpcWriteOptions(compression="lz4" if compression == 1 else None)
        with self._lock:
            self._sessions[name] = _Session(table, columns, ranges, options)
        schema = table.schema.serialize() if columns == table.column_names else table.select(columns).schema.serialize()
        return types.ReadSession(
            name=name, table=requested.table, data_format=types.DataFormat.ARROW,
            arrow_schema=types.ArrowSchema(serialized_schema=schema.to_pybytes()),
            read_options=requested.read_options, estimated_row_count=table.num_rows,
            streams=[types.ReadStream(name=f"{name}/streams/{index}") for index in range(len(ranges))],
        )

    def _open_table(self, found: re.Match | None, name: str, context: grpc.ServicerContext) -> pa.Table:
        if found is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid table name: {name}")
        if found["table"].startswith("stg_"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} is a view; the Storage Read API reads tables only")
        path = result_path(self.folder, found["table"])
        if not path.is_file():
            context.abort(grpc.StatusCode.NOT_FOUND, f"Not found: Table {name}")
        return open_result(path)

    def read_rows(self, request, context: grpc.ServicerContext):
        self._check_token(context)
        found = _STREAM.fullmatch(request.read_stream)
        with self._lock:
            session = self._sessions.get(found["session"]) if found else None
        if session is None or int(found["index"]) >= len(session.ranges):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Not found: stream {request.read_stream}")
        start, stop = session.ranges[int(found["index"])]
        if int(found["index"]) == len(session.ranges) - 1:
            stop = max(start, stop - _switches(self.folder).get("cut_rows", 0))
        rows = session.table.slice(start + request.offset, max(stop - start - request.offset, 0)).select(session.columns)
        self.counters.add("storage read streams")
        with self._lock:
            self._reading += 1
            self.counters.raise_to("storage read streams at once", self._reading)
        try:
            yield from self._responses(rows, session.options)
        finally:
            with self._lock:
                self._reading -= 1

    def _responses(self, rows: pa.Table, options: pa.ipc.IpcWriteOptions):
        first = True
        for batch in rows.to_batches(max_chunksize=RESPONSE_ROWS):
            response = types.ReadRowsResponse(
                arrow_record_batch=types.ArrowRecordBatch(serialized_record_batch=_encode(batch, options),
                                                          row_count=batch.num_rows),
                row_count=batch.num_rows)
            if first:  # only the first response of a stream carries the schema
                response.arrow_schema = types.ArrowSchema(serialized_schema=batch.schema.serialize().to_pybytes())
                first = False
            self.counters.add("storage read rows", batch.num_rows)
            yield response


def _split_rows(rows: int, streams: int) -> list[tuple[int, int]]:
    """Up to `streams` contiguous row ranges covering the table (none for an empty table)."""
    count = max(1, min(streams, rows))
    bounds = [rows * index // count for index in range(count + 1)]
    return [(bounds[index], bounds[index + 1]) for index in range(count) if bounds[index] < bounds[index + 1]]


def _encode(batch: pa.RecordBatch, options: pa.ipc.IpcWriteOptions) -> bytes:
    """The batch as one encapsulated IPC message, its buffers compressed as `options` ask."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    messages = pa.ipc.MessageReader.open_stream(sink.getvalue())
    messages.read_next_message()  # the schema
    return messages.read_next_message().serialize().to_pybytes()
