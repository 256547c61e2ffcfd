"""`python -m online` in a subprocess on a free loopback port, and small HTTP helpers (tests and bench)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_json(port: int, method: str, path: str, body: bytes | None = None,
                 connection: http.client.HTTPConnection | None = None, timeout: float = 30) -> tuple[int, dict]:
    """Status and JSON answer of one request (on `connection` when given, kept open for the next)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            connection.close()


class ServerProcess:
    """The online app (of `project_dir`: this project, or another checkout of it) serving on 127.0.0.1:`port`,
    its output in `log_path`."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str, workers: int = 2,
                 threads: int | None = None, project_dir: Path = PROJECT_DIR) -> None:
        self.port = free_port()
        self.log_path = workdir / f"online-{self.port}.log"
        self.log = open(self.log_path, "w")
        sizing = ["--workers", str(workers), *(["--threads", str(threads)] if threads else [])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "online", "--bind", f"127.0.0.1:{self.port}", *sizing, *args],
            cwd=workdir, env={**env, "PYTHONPATH": str(project_dir)}, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, dict]:
        return request_json(self.port, "GET", path)

    def post(self, path: str, payload) -> tuple[int, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return request_json(self.port, "POST", path, body)

    def wait_until(self, condition, timeout: float, path: str = "/health") -> tuple[int, dict]:
        """Poll GET `path` until `condition(status, answer)` holds; the last answer.

        Raises:
            AssertionError: the server exited, or the condition did not hold within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        last: tuple[int, dict] | None = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited {self.process.returncode}: {self.output()}"
            try:
                last = self.get(path)
                if condition(*last):
                    return last
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{path} still answers {last} after {timeout} s: {self.output()[-3000:]}")

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until /health answers 200 several times in a row: every worker loads the model by itself."""
        streak = 0

        def ready(status, _answer) -> bool:
            nonlocal streak
            streak = streak + 1 if status == 200 else 0
            return streak >= 8

        self.wait_until(ready, timeout)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each gunicorn worker (the server's child processes), in MiB."""
        sizes = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            except OSError:
                continue
            if int(fields.get("PPid", "0").strip()) == self.process.pid:
                sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
        return sizes

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def online_environment(workdir: Path, **settings: str) -> dict[str, str]:
    """A local-mode environment (no Carol variables) with the registry in `workdir`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "LONGTASKID"))}
    env.update(APP_REGISTRY_DIR=str(workdir / "models"), PYTHONDONTWRITEBYTECODE="1")
    env.update({f"APP_{name.upper()}": value for name, value in settings.items()})
    return env


class SlowClients:
    """`count` clients that each announce a request body and then send it one byte every `interval` seconds,
    reconnecting whenever the server drops them, until stopped (a context manager)."""

    def __init__(self, port: int, count: int = 16, interval: float = 0.5, body_bytes: int = 100_000) -> None:
        self.port, self.count, self.interval, self.body_bytes = port, count, interval, body_bytes
        self.stop = threading.Event()
        self.dropped = 0
        self.threads = [threading.Thread(target=self._trickle, daemon=True) for _ in range(count)]

    def __enter__(self) -> "SlowClients":
        for thread in self.threads:
            thread.start()
        time.sleep(self.interval * 2)  # every client connected and holding its request open
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _trickle(self) -> None:
        head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {self.body_bytes}\r\n\r\n").encode()
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as client:
                    client.sendall(head)
                    for _ in range(self.body_bytes):
                        if self.stop.wait(self.interval):
                            return
                        client.sendall(b" ")
            except OSError:
                self.dropped += 1  # the server closed the connection: come back at once
