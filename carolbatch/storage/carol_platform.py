"""The only place that creates Carol objects and calls the Carol platform through pycarol."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping

import pandas as pd

from carolbatch.storage.carol_credentials import CarolCredentials
from carolbatch.storage.stores import StorageError

logger = logging.getLogger(__name__)


class CarolUnavailableError(RuntimeError):
    """Carol could not be reached or refused the credentials."""


def check_carol_reachable(host: str, port: int, timeout_seconds: float = 10.0) -> None:
    """Fail fast when Carol does not answer, instead of pycarol's two minutes of retries.

    Any HTTP answer counts as reachable (this call carries no credentials, so it is refused);
    `requests` trusts the same certificates (`REQUESTS_CA_BUNDLE`) as pycarol's own calls.

    Raises:
        CarolUnavailableError: no connection, no TLS handshake, or no answer within the timeout.
    """
    import requests

    try:
        requests.head(f"https://{host}:{port}/api/v1/tenants/current", timeout=timeout_seconds)
    except requests.RequestException as error:
        reason = _unreachable_reason(error, timeout_seconds)
        raise CarolUnavailableError(f"Carol could not be reached at {host}:{port}: {reason}") from None


def _unreachable_reason(error: Exception, timeout_seconds: float) -> str:
    import requests

    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed (is its certificate trusted? see REQUESTS_CA_BUNDLE)"
    if isinstance(error, requests.exceptions.Timeout):
        return f"no answer within {timeout_seconds:g} s"
    cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return cause.group(1).strip() if cause else type(error).__name__


def connect_carol(credentials: CarolCredentials):
    """Log in to Carol (a user login wins over an API key, as in pycarol) at `{organization or tenant}.{domain}:443`.

    Raises:
        CarolUnavailableError: Carol did not answer or refused the login.
    """
    from pycarol import ApiKeyAuth, Carol, PwdAuth

    if credentials.user and credentials.password:
        auth = _checking_reachability(PwdAuth)(credentials.user, credentials.password)
    else:
        auth = _checking_reachability(ApiKeyAuth)(credentials.api_key)
    logger.info("connecting to Carol tenant %s as app %s", credentials.tenant, credentials.app_name)
    try:
        return Carol(
            domain=credentials.tenant,
            app_name=credentials.app_name,
            auth=auth,
            connector_id=credentials.connector_id,
            organization=credentials.organization,
            environment=credentials.domain,
        )
    except CarolUnavailableError:
        raise
    except Exception as error:
        raise CarolUnavailableError(f"Carol could not be reached at tenant {credentials.tenant}: {error}") from error


def _checking_reachability(auth_class: type) -> type:
    """`auth_class` whose login first checks that Carol answers.

    `Carol()` calls `auth.login(carol)` once it has resolved its host and port (from `host=`, or the
    organization or tenant and `CAROL_DOMAIN`) and before its first API call, the one that retries.
    """

    class ReachabilityCheckedAuth(auth_class):
        def login(self, carol):
            check_carol_reachable(carol.host, carol.port)
            return super().login(carol)

    return ReachabilityCheckedAuth


def describe_carol_error(error: BaseException) -> str:
    """One line for an error out of pycarol: Carol's `errorMessage` and the HTTP status when it has them.

    pycarol raises `Exception(response.text, status_code)` (or `CarolApiResponseException` with the
    same arguments) for a refused call.
    """
    if len(error.args) == 2 and isinstance(error.args[1], int):
        text, status = error.args
        try:
            message = json.loads(text).get("errorMessage") or text
        except (TypeError, ValueError, AttributeError):
            message = text
        return f"{_first_line(str(message))} (HTTP {status})"
    return _first_line(str(error)) or type(error).__name__


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def fetch_app_settings(carol) -> dict[str, str]:
    """The app's settings as set in the Carol UI (values may be strings whatever their type)."""
    from pycarol import Apps

    return dict(Apps(carol).get_settings(app_name=carol.app_name))


def query_staging(carol, sql: str) -> pd.DataFrame:
    """Run a BigQuery query on the tenant's staging data."""
    from pycarol.bigquery import BQ

    return BQ(carol).query(sql)


def open_bigquery(carol, environ: Mapping[str, str], accounts=None):
    """The tenant's BigQuery through pycarol's temporary service account (`BigQueryReader`).

    `BIGQUERY_STORAGE_EMULATOR_HOST=host:port` points the Storage Read API at an emulator over
    insecure gRPC, as `BIGQUERY_EMULATOR_HOST` does for the REST API.
    """
    from carolbatch.storage.bigquery_reader import BigQueryReader

    return BigQueryReader(carol, environ.get("BIGQUERY_STORAGE_EMULATOR_HOST") or None, accounts)


def open_app_storage(carol, app_name: str, accounts=None):
    """`pycarol.Storage` of `app_name` in the same tenant (the deploy app, or this app itself), its Cloud
    Storage client on the run's shared credentials when `accounts` (a `ServiceAccounts`) is given.

    Raises:
        StorageError: Carol refused the storage (no such app, no access).
    """
    from pycarol import Storage

    app_carol = carol
    if app_name != carol.app_name:
        app_carol = copy.copy(carol)
        app_carol.app_name = app_name
    try:
        storage = Storage(app_carol)
        if accounts is not None:
            accounts.share_with_storage(storage)
    except Exception as error:  # pycarol raises bare exceptions for a refused storage token
        raise StorageError(f"Carol storage of app {app_name} could not be opened: "
                           f"{describe_carol_error(error)}") from error
    return storage
