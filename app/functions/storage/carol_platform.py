"""The only place that creates Carol objects and calls the Carol platform through pycarol."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

logger = logging.getLogger(__name__)


class CarolUnavailableError(RuntimeError):
    """Carol could not be reached or refused the credentials."""


@dataclass(frozen=True)
class CarolCredentials:
    """How to reach a Carol tenant, as a batch container's environment gives it."""

    tenant: str
    app_name: str
    api_key: str | None = field(default=None, repr=False)
    connector_id: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    organization: str | None = None
    host: str | None = None
    port: int = 443


def credentials_from_environment(environ: Mapping[str, str]) -> CarolCredentials | None:
    """Carol credentials when the environment has a tenant and an API key or a user login, else None.

    Raises:
        ValueError: `CAROL_PORT` is not a port number.
    """
    tenant = environ.get("CAROLTENANT", "").strip()
    api_key = environ.get("CAROLAPPOAUTH") or None
    user, password = environ.get("CAROLUSER") or None, environ.get("CAROLPWD") or None
    if not tenant or not (api_key or (user and password)):
        return None
    port_text = environ.get("CAROL_PORT", "443")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"CAROL_PORT={port_text!r} is not a port number")
    return CarolCredentials(
        tenant=tenant,
        app_name=environ.get("CAROLAPPNAME", "").strip(),
        api_key=api_key,
        connector_id=environ.get("CAROLCONNECTORID") or None,
        user=user,
        password=password,
        organization=environ.get("CAROLORGANIZATION") or None,
        host=environ.get("CAROL_HOST") or None,
        port=int(port_text),
    )


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
    """Log in to Carol (a user login wins over an API key, as in pycarol).

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
            host=credentials.host,
            port=credentials.port,
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


def fetch_app_settings(carol) -> dict[str, str]:
    """The app's settings as set in the Carol UI (values may be strings whatever their type)."""
    from pycarol import Apps

    return dict(Apps(carol).get_settings(app_name=carol.app_name))


def query_staging(carol, sql: str) -> pd.DataFrame:
    """Run a BigQuery query on the tenant's staging data."""
    from pycarol.bigquery import BQ

    return BQ(carol).query(sql)


def open_app_storage(carol, app_name: str):
    """`pycarol.Storage` of `app_name` in the same tenant (the deploy app, or this app itself)."""
    from pycarol import Storage

    if app_name == carol.app_name:
        return Storage(carol)
    other_app = copy.copy(carol)
    other_app.app_name = app_name
    return Storage(other_app)
