"""Carol storage: a Google Cloud Storage emulator (gcp-storage-emulator) keeping objects in the sandbox folder."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from sandbox.https_server import HOST
from sandbox.preconditions import honour_generation_preconditions
from sandbox.resumable_uploads import append_resumable_chunks

STORAGE_FOLDER = "storage"
# Where pycarol keeps its own files in the app bucket (pycarol.carolina).
PYCAROL_FOLDER = "carolapps/._pycarol"


class StorageEmulator:
    """The emulator serving `http://127.0.0.1:<port>`, with the tenant's bucket created."""

    def __init__(self, folder: Path, port: int, buckets: list[str]) -> None:
        # The emulator logs every request at INFO.
        logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
        data_dir = (folder / STORAGE_FOLDER).resolve()
        self.port = port
        self.url = f"http://{HOST}:{port}"
        rebase_media_links(data_dir, self.url)
        honour_generation_preconditions()
        append_resumable_chunks()
        self._server = create_server(HOST, port, in_memory=False, data_dir=str(data_dir))
        self._server.start()
        client = storage_client(self.url, project="sandbox")
        for name in buckets:
            if client.lookup_bucket(name) is None:
                client.create_bucket(name)

    def stop(self) -> None:
        self._server.stop()


def rebase_media_links(data_dir: Path, url: str) -> None:
    """Point stored objects' download links at `url`.

    The emulator writes each object's `mediaLink` with the address it had when the object was
    uploaded, and google-cloud-storage downloads from that link: after a restart on another port
    every download would retry a dead address for two minutes.
    """
    meta = data_dir / ".cloudstorage" / ".meta"  # gcp-storage-emulator 2026.7.19's own index
    if not meta.is_file():
        return
    index = json.loads(meta.read_text())
    for objects in index.get("objects", {}).values():
        for record in objects.values():
            link = record.get("mediaLink", "")
            if "/download/" in link:
                record["mediaLink"] = url + link[link.index("/download/"):]
    temporary = meta.with_name(".meta.part")
    temporary.write_text(json.dumps(index, indent=2))
    os.replace(temporary, meta)


def storage_client(url: str, project: str) -> storage.Client:
    """A client of the emulator that needs no credentials."""
    return storage.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def forget_query_keys(url: str, bucket: str, tenant_id: str) -> None:
    """Delete the BigQuery keys pycarol cached (in storage and in this machine's temp folder).

    A cached key names the token endpoint of the sandbox that issued it; after a restart on another
    port, google-cloud-bigquery would retry that dead endpoint for minutes instead of asking again.
    """
    name = f".pycarol_temp_{tenant_id}.json"
    blob = storage_client(url, project="sandbox").bucket(bucket).blob(f"{PYCAROL_FOLDER}/{name}")
    if blob.exists():
        blob.delete()
    (Path(tempfile.gettempdir()) / "carolina" / "cache" / name).unlink(missing_ok=True)


def list_app_objects(url: str, bucket: str, app_name: str) -> list[str]:
    """Names of the objects in an app's Carol storage, relative to the app's folder.

    Args:
        url: the running emulator, as `STORAGE_EMULATOR_HOST` gives it.
        bucket: the tenant's bucket.
        app_name: whose storage to list.
    """
    prefix = f"carolapps/{app_name}/files/"
    blobs = storage_client(url, project="sandbox").list_blobs(bucket, prefix=prefix)
    return sorted(blob.name[len(prefix):] for blob in blobs)
