"""Carol credentials as a batch container's environment gives them, checked before any login."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class CarolCredentialsError(ValueError):
    """Carol variables are present but too few to log in."""


# Any of these in the environment means the run is meant for Carol: local mode would be a silent mistake.
CAROL_VARIABLES = ("CAROLTENANT", "CAROLAPPNAME", "CAROLAPPOAUTH", "CAROLUSER", "LONGTASKID")
DEFAULT_DOMAIN = "carol.ai"


@dataclass(frozen=True)
class CarolCredentials:
    """How to reach a Carol tenant, read from the environment as pycarol's `Carol()` reads it."""

    tenant: str
    app_name: str
    api_key: str | None = field(default=None, repr=False)
    connector_id: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    organization: str | None = None
    domain: str = DEFAULT_DOMAIN


def credentials_from_environment(environ: Mapping[str, str]) -> CarolCredentials | None:
    """Carol credentials from a batch container's environment; None when no Carol variable is set.

    Each variable is read as `pycarol.Carol()` reads it: an empty value counts as missing, the
    organization and `CAROL_DOMAIN` (default `carol.ai`) make the host, a user login wins over the API key.

    Raises:
        CarolCredentialsError: some Carol variable is set but the login cannot be completed; the
            message names what is missing.
    """
    present = [name for name in CAROL_VARIABLES if name in environ]
    if not present:
        return None
    credentials = CarolCredentials(
        tenant=environ.get("CAROLTENANT") or "",
        app_name=environ.get("CAROLAPPNAME", " "),
        api_key=environ.get("CAROLAPPOAUTH") or None,
        connector_id=environ.get("CAROLCONNECTORID") or None,
        user=environ.get("CAROLUSER") or None,
        password=environ.get("CAROLPWD") or None,
        organization=environ.get("CAROLORGANIZATION") or None,
        domain=environ.get("CAROL_DOMAIN") or DEFAULT_DOMAIN,
    )
    missing = _missing_variables(credentials)
    if missing:
        raise CarolCredentialsError(
            f"Carol login incomplete: {' and '.join(missing)} missing (found {', '.join(present)}); "
            "set every Carol variable, or none to run locally")
    return credentials


def _missing_variables(credentials: CarolCredentials) -> list[str]:
    missing = [] if credentials.tenant else ["CAROLTENANT"]
    if not credentials.app_name.strip():  # pycarol accepts no app name; the app's settings and storage need one
        missing.append("CAROLAPPNAME")
    if not credentials.api_key and not (credentials.user and credentials.password):
        missing.append("CAROLPWD (or CAROLAPPOAUTH)" if credentials.user else "CAROLAPPOAUTH")
    return missing
