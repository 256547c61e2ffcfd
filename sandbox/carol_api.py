"""The Carol endpoints pycarol 2.56 calls for this app, answered from the sandbox folder."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from sandbox.certificates import load_private_key
from sandbox.https_server import Reply, Request, Route
from sandbox.tenant import Tenant, app_id, append_task_log, read_apps, read_faults

TOKEN_SECONDS = 3600
# Short, so a key cached by a client that the sandbox cannot clean (another TMPDIR) dies soon after
# a restart on another port, instead of sending BigQuery's token requests to a dead port for a day.
QUERY_KEY_SECONDS = 600
# A hanging task-log call answers 504 after this long (or when the sandbox stops), as a gateway would.
HANG_SECONDS = 300
_STORAGE_SPACES = {
    "cdsGoldenPath": "golden/{dm_name}", "cdsStagingPath": "staging/{connector_id}_{staging_type}",
    "cdsStagingMasterPath": "staging-master/{connector_id}_{staging_type}",
    "cdsStagingRejectedPath": "staging-rejected/{connector_id}_{staging_type}", "cdsViewPath": "view/{relationship_view_name}",
    "cdsIntakeGoldenPath": "intake-golden/{dm_name}", "cdsIntakeStagingPath": "intake-staging/{connector_id}_{staging_type}",
    "cdsRejectedPath": "rejected/{dm_name}", "cdsIntakeViewPath": "intake-view/{relationship_view_name}",
}


class AccessTokens:
    """OAuth access tokens issued to the service account, accepted by the BigQuery stand-in."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expiry[token] = time.time() + TOKEN_SECONDS
        return token

    def valid(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            return self._expiry.get(token, 0) > time.time()


class CarolStandIn:
    """Tenant, apps and settings, storage token, task log, BigQuery key and the OAuth token endpoint."""

    def __init__(self, folder: Path, tenant: Tenant, account_key: Path, base_url: str, tokens: AccessTokens) -> None:
        self.folder = folder
        self.stopping = threading.Event()
        self.tenant = tenant
        self.account_key = load_private_key(account_key)
        self.account_pem = account_key.read_text()
        self.base_url = base_url
        self.tokens = tokens

    def routes(self) -> list[Route]:
        return [
            Route("GET", r"/api/v1/tenants/current", self._keyed(lambda request: Reply(200, self._tenant_record()))),
            Route("GET", r"/api/v1/organizations/current", self._keyed(self.organization)),
            Route("GET", r"/api/v2/tenants/domain/(?P<domain>[^/]+)", self._keyed(self.tenant_by_domain)),
            Route("GET", r"/api/v1/tenantApps/name/(?P<app>[^/]+)", self._keyed(self.app_by_name)),
            Route("GET", r"/api/v1/tenantApps/(?P<id>[^/]+)/settings", self._keyed(self.app_settings)),
            Route("GET", r"/api/v1/storage/storage/token", self._keyed(self.storage_token)),
            Route("POST", r"/api/v1/tasks/(?P<task>[^/]+)/logs", self._keyed(self.task_logs)),
            Route("POST", r"/sql/v1/api/v1/create_temporary_key", self._keyed(self.temporary_key)),
            Route("POST", r"/oauth2/token", self.oauth_token),
        ]

    def _keyed(self, answer):
        def checked(request: Request) -> Reply:
            if request.headers.get("x-auth-key") != self.tenant.api_key:
                return Reply(401, {"errorMessage": "invalid API key", "possibleResponsibleField": "apiKey"})
            return answer(request)
        return checked

    def _tenant_record(self) -> dict:
        return {"mdmId": self.tenant.tenant_id, "mdmName": self.tenant.name, "mdmOrgId": self.tenant.organization_id}

    def organization(self, request: Request) -> Reply:
        return Reply(200, {"mdmId": self.tenant.organization_id, "mdmName": self.tenant.organization})

    def tenant_by_domain(self, request: Request) -> Reply:
        if request.match["domain"] != self.tenant.name:
            return Reply(404, {"errorMessage": f"tenant {request.match['domain']} not found"})
        return Reply(200, self._tenant_record())

    def app_by_name(self, request: Request) -> Reply:
        name = request.match["app"]
        if name not in read_apps(self.folder):
            return Reply(404, {"errorMessage": f"app {name} not found in tenant {self.tenant.name}"})
        return Reply(200, {"mdmId": app_id(name), "mdmName": name, "mdmTenantId": self.tenant.tenant_id})

    def app_settings(self, request: Request) -> Reply:
        apps = {app_id(name): settings for name, settings in read_apps(self.folder).items()}
        if request.match["id"] not in apps:
            return Reply(404, {"errorMessage": f"app {request.match['id']} not found"})
        values = [{"mdmName": name, "mdmParameterValue": value} for name, value in apps[request.match["id"]].items()]
        return Reply(200, {"mdmTenantAppSettingValues": values})

    def storage_token(self, request: Request) -> Reply:
        app = request.query.get("carolAppName", "").strip()
        if not app:
            return Reply(400, {"errorMessage": "carolAppName is required"})
        if app not in read_apps(self.folder):
            return Reply(404, {"errorMessage": f"app {app} not found in tenant {self.tenant.name}"})
        if app in read_faults(self.folder).get("refused_storage", []):
            return Reply(403, {"errorMessage": f"access to the storage of app {app} denied (sandbox fault)"})
        expires = int((time.time() + TOKEN_SECONDS) * 1000)
        paths = {key: {"bucket": "carol-{tenant_id}", "path": path} for key, path in _STORAGE_SPACES.items()}
        unwritable = app in read_faults(self.folder).get("unwritable_storage", [])
        app_bucket = "carol-{tenant_id}-unwritable" if unwritable else "carol-{tenant_id}"  # never created
        app_path = {"bucket": app_bucket, "path": f"carolapps/{app}/files"}
        return Reply(200, {"engine": "GCP-CS", "token": self.service_account(), "expirationTimestamp": expires,
                           "cdsAppStoragePath": app_path, **paths})

    def task_logs(self, request: Request) -> Reply:
        fault = read_faults(self.folder).get("task_logs", "ok")
        if fault == "500":
            return Reply(500, {"errorMessage": "task log unavailable (sandbox fault task_logs=500)"})
        if fault == "hang":
            self.stopping.wait(HANG_SECONDS)
            return Reply(504, {"errorMessage": "task log timed out (sandbox fault task_logs=hang)"})
        entries = request.json()
        append_task_log(self.folder, request.match["task"], entries if isinstance(entries, list) else [entries])
        return Reply(200, {"success": True})

    def temporary_key(self, request: Request) -> Reply:
        """The BigQuery key; pycarol caches it on disk until it expires, with this sandbox's token_uri."""
        expires = datetime.now(timezone.utc) + timedelta(seconds=QUERY_KEY_SECONDS)
        return Reply(200, {**self.service_account(), "expiration_time": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})

    def service_account(self) -> dict:
        """A Google service-account key whose token requests come back to this stand-in."""
        project = self.tenant.project_id
        return {
            "type": "service_account", "project_id": project, "private_key_id": "sandbox",
            "private_key": self.account_pem, "client_email": f"sandbox@{project}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{self.base_url}/oauth2/token",
        }

    def oauth_token(self, request: Request) -> Reply:
        """Google's JWT-bearer grant: the assertion must be signed with the service account's key."""
        assertion = request.form().get("assertion", "")
        if not self._signed_by_account(assertion):
            return Reply(400, {"error": "invalid_grant", "error_description": "bad JWT signature"})
        return Reply(200, {"access_token": self.tokens.issue(), "expires_in": TOKEN_SECONDS, "token_type": "Bearer"})

    def _signed_by_account(self, assertion: str) -> bool:
        try:
            header, claims, signature = assertion.split(".")
            self.account_key.public_key().verify(
                _unbase64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            return json.loads(_unbase64(header)).get("alg") == "RS256"
        except (ValueError, InvalidSignature):
            return False


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
