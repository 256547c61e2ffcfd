"""What the sandbox was asked for: requests by kind, OAuth tokens issued, bytes sent (`GET /sandbox/counters`).

A benchmark or test reads the counters before and after a run and compares them, to see what a run
costs the platform: token requests, storage metadata calls, bytes downloaded.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import partial
from urllib.parse import unquote, urlsplit

import gcp_storage_emulator.server as emulator_server


class RequestCounters:
    """Thread-safe named counters."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def raise_to(self, name: str, value: int) -> None:
        """Keep the highest value seen (a gauge's peak)."""
        with self._lock:
            self._counts[name] = max(self._counts[name], value)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


def count_storage_requests(counters: RequestCounters) -> None:
    """Make the storage emulator count its requests: metadata calls, downloads and their bytes, uploads.

    The emulator builds its handler from the module's `RequestHandler` when its server thread starts.
    """
    emulator_server.RequestHandler = partial(_CountingHandler, counters)


class _CountingHandler(emulator_server.RequestHandler):
    def __init__(self, counters: RequestCounters, *args, **kwargs) -> None:
        self.counters = counters
        super().__init__(*args, **kwargs)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-length" and self._is_download():
            self.counters.add("storage download bytes", int(value))
            if self._object_name().endswith(".pkl"):  # pipeline targets and models, as against small records
                self.counters.add("storage download bytes of .pkl objects", int(value))
        super().send_header(keyword, value)

    def log_request(self, code="-", size="-") -> None:
        if self._is_download():
            kind = "download"
        elif self.command in ("POST", "PUT") and "/upload/" in self.path:
            kind = "upload"
        else:
            kind = f"metadata {self.command}"
        self.counters.add(f"storage {kind}")
        super().log_request(code, size)

    def _object_name(self) -> str:
        return unquote(urlsplit(self.path).path.rsplit("/o/", 1)[-1])

    def _is_download(self) -> bool:
        return self.command == "GET" and ("/download/" in self.path or "alt=media" in self.path)
