"""GET /metrics: the online app's counters in Prometheus text format (prometheus_client).

gunicorn runs several worker processes and a scrape reaches one of them: `python -m online` sets
PROMETHEUS_MULTIPROC_DIR (a fresh folder) before the workers start, so each worker writes its values there and
any of them answers with the sum over all (prometheus_client's multiprocess mode). Without it (an app made in a
test), the values are this process's.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Request latency buckets (seconds): a single record takes about a millisecond, a 1,000-record body tens of them.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The app's metrics, registered in a registry of their own (so apps made side by side do not clash)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram  # after the env is set

        self._registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        kept = {"registry": self._registry}
        self.requests = Counter("online_requests", "Requests answered, by route and status",
                                ["route", "status"], **kept)
        self.latency = Histogram("online_request_seconds", "Time to answer a request, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, **kept)
        self.records = Counter("online_records_predicted", "Records predicted", **kept)
        self.out_of_range = Counter("online_out_of_range_values",
                                    "Values flagged far outside the training data, by field", ["field"], **kept)
        self.refused_absurd = Counter("online_absurd_values_refused",
                                      "Requests refused (422) for a value absurdly far outside the training data",
                                      ["field"], **kept)
        self.version = Gauge("online_model_version", "1 for the model version served", ["version"],
                             multiprocess_mode="livemax", **kept)
        self.age = Gauge("online_model_age_seconds", "Seconds since the served version was created",
                         multiprocess_mode="livemax", **kept)
        self._served_version: str | None = None

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def serving(self, version: str | None, created_at: str | None) -> None:
        """The version this worker serves now (set when /metrics is scraped)."""
        if version != self._served_version and self._served_version is not None:
            self.version.labels(self._served_version).set(0)
        self._served_version = version
        if version is not None:
            self.version.labels(version).set(1)
            self.age.set(_age_seconds(created_at))

    def render(self) -> tuple[bytes, str]:
        """The scrape's body and content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if not self.multiprocess:
            return generate_latest(self._registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _age_seconds(created_at: str | None) -> float:
    try:
        return max(time.time() - datetime.fromisoformat(str(created_at)).timestamp(), 0.0)
    except ValueError:
        return float("nan")


def worker_gone(pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn's `child_exit` hook calls this in the master)."""
    if os.environ.get(MULTIPROCESS_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
