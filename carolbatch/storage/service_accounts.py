"""The Google credentials of a run: one per service account Carol hands out, shared by every client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Covers every API the run calls (BigQuery, its Storage Read API, Cloud Storage).
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class ServiceAccounts:
    """google-auth credentials by service account, each with its OAuth token fetched once, up front.

    Every google client made with its own credentials object fetches its own token, and
    google-cloud-storage fetches two at once (its background bucket-metadata thread and the first call
    race for it). Handing every client of a run the same object per service account makes that one.
    """

    def __init__(self) -> None:
        self._by_account: dict[tuple[str, str], Any] = {}

    def credentials(self, info: Mapping[str, Any]):
        """The shared credentials of the service account described by `info` (its JSON key)."""
        from google.auth.transport.requests import Request
        from google.oauth2.service_account import Credentials

        account = (str(info.get("client_email")), str(info.get("private_key_id")))
        if account not in self._by_account:
            # Scoped already: a client given unscoped credentials makes a scoped copy, with a token of its own.
            credentials = Credentials.from_service_account_info(dict(info), scopes=[CLOUD_PLATFORM_SCOPE])
            credentials.refresh(Request())  # before any client can race for it
            self._by_account[account] = credentials
        return self._by_account[account]

    def share_with_storage(self, storage) -> None:
        """Give a `pycarol.Storage` a Cloud Storage client on the shared credentials of its service account.

        pycarol builds a client with fresh credentials for every `Storage`; its backend takes the client
        from `carolina.client` on every call, and builds a new one only when Carol's storage token expires.
        """
        from google.cloud import storage as cloud_storage

        carolina = storage.carolina
        info = carolina.token
        carolina.client = cloud_storage.Client(credentials=self.credentials(info), project=info["project_id"])
