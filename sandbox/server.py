"""Start and stop the whole stand-in: Carol's HTTPS API with BigQuery, and the storage emulator."""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import shlex
import socket
from pathlib import Path

import pandas as pd

from sandbox.bigquery_api import BigQueryStandIn
from sandbox.carol_api import AccessTokens, CarolStandIn
from sandbox.certificates import ensure_certificates
from sandbox.counters import RequestCounters, count_storage_requests
from sandbox.https_server import HOST, HTTPSServer, Reply, Route
from sandbox.results import forget_results
from sandbox.staging import stage_records, staging_tables, with_metadata
from sandbox.storage import StorageEmulator, forget_query_keys
from sandbox.storage_read import StorageReadServer
from sandbox.tenant import Tenant, open_tenant

logger = logging.getLogger(__name__)



def sample_table() -> tuple[str, str, str]:
    """Where a new sandbox stages the app's bundled data, and its row key: (connector, staging, id column).

    The app's declared defaults (app/functions/settings.py) say so, as its data file holds the rows: the
    staging table is the app's data, not the sandbox's code.
    """
    from app.functions.settings import APP_DEFAULTS

    return APP_DEFAULTS["input_connector"], APP_DEFAULTS["input_staging"], APP_DEFAULTS["id_column"]


class Sandbox:
    """A running stand-in; `environment()` is what a Carol batch container would get."""

    def __init__(self, folder: Path, tenant: Tenant, carol: HTTPSServer, storage: StorageEmulator, ca_file: Path,
                 api: CarolStandIn, storage_read: StorageReadServer) -> None:
        self.folder = folder
        self.tenant = tenant
        self.carol = carol
        self.storage = storage
        self.ca_file = ca_file
        self.api = api
        self.task_id = secrets.token_hex(16)
        self.storage_read = storage_read

    def environment(self) -> dict[str, str]:
        """What a process needs to run against the sandbox: Carol's variables and the network's."""
        return {**self.carol_environment(), **self.network_environment()}

    def carol_environment(self) -> dict[str, str]:
        """Exactly the variables Carol injects into a batch container, with this sandbox's values."""
        return {
            "CAROLTENANT": self.tenant.name, "CAROLAPPNAME": self.tenant.app_name,
            "CAROLAPPOAUTH": self.tenant.api_key, "CAROLCONNECTORID": self.tenant.connector_id,
            "CAROLORGANIZATION": self.tenant.organization, "CAROL_DOMAIN": self.tenant.domain,
            "LONGTASKID": self.task_id,
        }

    def network_environment(self) -> dict[str, str]:
        """Where the libraries' calls go, read by requests, google-auth and the Google clients, not by the app.

        Carol's host names reach the sandbox through it as an HTTPS proxy; Google's endpoints
        (the service account's token URI, BigQuery, Cloud Storage) are on 127.0.0.1 directly.
        """
        return {
            "HTTPS_PROXY": f"http://{HOST}:{self.carol.port}", "NO_PROXY": f"{HOST},localhost",
            "REQUESTS_CA_BUNDLE": str(self.ca_file), "STORAGE_EMULATOR_HOST": self.storage.url,
            "BIGQUERY_EMULATOR_HOST": f"https://{HOST}:{self.carol.port}",
            "BIGQUERY_STORAGE_EMULATOR_HOST": self.storage_read.address,
        }

    def stop(self) -> None:
        self.api.stopping.set()
        self.carol.stop()
        self.storage.stop()
        self.storage_read.stop()


def start_sandbox(folder: Path, carol_port: int = 0, storage_port: int = 0, sample: Path | None = None,
                  storage_read_port: int = 0) -> Sandbox:
    """Start the stand-in on 127.0.0.1, creating the folder's tenant, certificates and buckets on first use.

    Args:
        folder: the sandbox folder (settings, staging files, storage, task logs).
        carol_port: port of the HTTPS API; 0 picks a free one.
        storage_port: port of the storage emulator; 0 picks a free one.
        sample: a CSV staged where `sample_table()` says when the sandbox has no staging table yet.
        storage_read_port: port of the BigQuery Storage Read API (gRPC); 0 picks a free one.
    """
    folder = folder.resolve()
    tenant = open_tenant(folder)
    certificates = ensure_certificates(folder / "certificates", tenant.hosts)
    if sample is not None and not staging_tables(folder):
        connector, staging, id_column = sample_table()
        records = with_metadata(pd.read_csv(sample), id_column, datetime.datetime.now(datetime.timezone.utc))
        stage_records(folder, connector, staging, records)
    counters = RequestCounters()
    count_storage_requests(counters)
    storage = StorageEmulator(folder, storage_port or free_port(), [tenant.bucket])
    forget_query_keys(storage.url, tenant.bucket, tenant.tenant_id)
    tokens = AccessTokens()
    forget_results(folder)
    storage_read = StorageReadServer(folder, tokens, storage_read_port, counters)
    carol = HTTPSServer(carol_port, [], certificates.server_certificate, certificates.server_key, counters)
    api = CarolStandIn(folder, tenant, certificates.service_account_key, f"https://{HOST}:{carol.port}", tokens)
    counter_route = Route("GET", r"/sandbox/counters", lambda request: Reply(200, counters.snapshot()))
    carol.set_routes([*api.routes(), *BigQueryStandIn(folder, tokens).routes(), counter_route])
    carol.tunnel_to(*(f"{host}:443" for host in tenant.hosts))
    logger.info("sandbox %s: Carol API on port %d, storage on port %d, BigQuery Storage Read API on port %d",
                folder, carol.port, storage.port, storage_read.port)
    return Sandbox(folder, tenant, carol, storage, certificates.ca_file, api, storage_read)


def free_port() -> int:
    """A port nothing listens on now (another process could still take it before us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def write_environment(path: Path, environment: dict[str, str]) -> None:
    """Write `NAME=value` lines that `set -a; . FILE` and python-dotenv both read."""
    temporary = path.with_name(path.name + ".part")
    temporary.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in environment.items()))
    os.replace(temporary, path)
