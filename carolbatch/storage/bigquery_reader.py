"""Query results from the tenant's BigQuery as Arrow record batches, with pycarol's temporary service account.

The primary route is the BigQuery Storage Read API: the query job's destination table streamed as
Arrow through as many streams as the server offers, read at once (a query without `ORDER BY`; one with
it is read through a single stream), their batches arriving in no particular order. When the API is refused (disabled in the project, no permission, not reachable), the REST
result pages are converted to Arrow one page at a time. Either way no Python object is made per row
of the whole result, and one OAuth token (one `Credentials` object) serves every call of a run.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pandas as pd
import pyarrow as pa
from google.api_core import exceptions as api_exceptions

from carolbatch.storage.service_accounts import ServiceAccounts

logger = logging.getLogger(__name__)

# What a refused Storage Read API looks like: disabled or not permitted, or not answering.
STORAGE_REFUSALS = (api_exceptions.PermissionDenied, api_exceptions.Forbidden, api_exceptions.Unauthenticated,
                    api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
                    api_exceptions.MethodNotImplemented)


@dataclass(frozen=True)
class QueryStream:
    """A query's rows: their exact count, schema and record batches, the route they come by and its streams."""

    total_rows: int
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    route: str
    streams: int = 1


# A REST page is parsed into Python objects before it becomes Arrow: about 4 kB a row of 15 numbers, so
# 10,000-row pages cost 40 MiB of peak memory, these 10 MiB.
REST_PAGE_ROWS = 2_500


class BigQueryReader:
    """BigQuery and Storage Read clients sharing one `Credentials` object (one OAuth token per hour).

    Args:
        carol: a logged-in `pycarol.Carol`.
        storage_emulator: `host:port` of a Storage Read API emulator, reached over insecure gRPC; None
            for Google's own endpoint.
        accounts: the run's shared credentials, when other clients of the run share them.
    """

    def __init__(self, carol, storage_emulator: str | None = None, accounts: ServiceAccounts | None = None) -> None:
        from google.cloud import bigquery
        from pycarol.bigquery import TokenManager

        # The tenant record pycarol already holds (`get_current()` would ask Carol twice more).
        tenant_id = carol.tenant["mdmId"]
        service_account = TokenManager(carol).get_token().service_account
        self.credentials = (accounts or ServiceAccounts()).credentials(service_account)
        self.client = bigquery.Client(project=service_account["project_id"], credentials=self.credentials)
        self.job_config = bigquery.QueryJobConfig(default_dataset=f"carol-{tenant_id[:20]}.{tenant_id}")
        self.storage_emulator = storage_emulator
        self._read_client = None

    def query_frame(self, sql: str) -> pd.DataFrame:
        """A small result (a probe) as a DataFrame, through the REST API."""
        rows = self.client.query(sql, job_config=self.job_config).result()
        return rows.to_arrow(create_bqstorage_client=False).to_pandas()

    def stream(self, sql: str) -> QueryStream:
        """Run a query and stream its result, by the Storage Read API unless it is refused, in no set order.

        The Storage Read API's batches come through all the streams the server offers, read at once.

        Raises:
            google.api_core.exceptions.GoogleAPICallError: the query failed.
        """
        job = self.client.query(sql, job_config=self.job_config)
        rows = job.result()
        schema = _arrow_schema(rows.schema)
        # The library reads a query whose text has "ORDER BY" anywhere through one stream, to keep its order:
        # a window's `ORDER BY` (the latest version of a record) too, a false positive its docs name. Rows
        # here are in no particular order; callers order them.
        rows._preserve_order = False
        sessions = _SessionStreams(self.read_client())
        # 0: as many streams as the server chooses (none asked for; the library reads them all at once).
        batches = rows.to_arrow_iterable(bqstorage_client=sessions, max_stream_count=0)
        try:
            first = next(batches, None)
        except STORAGE_REFUSALS as error:
            logger.warning("BigQuery Storage Read API refused (%s); reading the REST result pages instead",
                           str(error).splitlines()[0])
            pages = job.result(page_size=REST_PAGE_ROWS).to_arrow_iterable()
            return QueryStream(rows.total_rows, schema, pages, "REST result pages")
        if not rows._should_use_bqstorage(self.read_client(), False):
            return QueryStream(rows.total_rows, schema, _chain(first, batches), "REST result pages")
        return QueryStream(rows.total_rows, schema, _chain(first, batches), "Storage Read API", sessions.streams)

    def read_client(self):
        """The Storage Read API client, made once."""
        if self._read_client is None:
            from google.cloud.bigquery_storage import BigQueryReadClient
            from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

            if self.storage_emulator:
                channel = grpc.intercept_channel(grpc.insecure_channel(self.storage_emulator),
                                                 _BearerToken(self.credentials))
                self._read_client = BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
            else:
                self._read_client = BigQueryReadClient(credentials=self.credentials)
        return self._read_client


class _SessionStreams:
    """The Storage Read client as google-cloud-bigquery uses it, noting how many streams its session got."""

    def __init__(self, client) -> None:
        self.client = client
        self.streams = 0

    def create_read_session(self, *args, **kwargs):
        session = self.client.create_read_session(*args, **kwargs)
        self.streams = len(session.streams)
        return session

    def read_rows(self, *args, **kwargs):
        return self.client.read_rows(*args, **kwargs)


def _chain(first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
        yield from rest


def _arrow_schema(fields) -> pa.Schema:
    from google.cloud.bigquery._pandas_helpers import bq_to_arrow_schema

    return bq_to_arrow_schema(fields)


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials",
                                                           "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the shared credentials' access token to each call, as a secure channel's call credentials would."""

    def __init__(self, credentials) -> None:
        self.credentials = credentials

    def _authorized(self, details: grpc.ClientCallDetails) -> _CallDetails:
        if not self.credentials.valid:
            from google.auth.transport.requests import Request

            self.credentials.refresh(Request())
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.credentials.token}")]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._authorized(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._authorized(client_call_details), request)
