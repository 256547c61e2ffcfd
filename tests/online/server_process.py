"""`python -m online` in a subprocess on a free loopback port, and small HTTP helpers (tests and bench)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
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
    """The online app serving on 127.0.0.1:`port`, its output in `log_path`."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str, workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.log_path = workdir / f"online-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "online", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--threads", str(threads), *args],
            cwd=workdir, env={**env, "PYTHONPATH": str(PROJECT_DIR)}, stdout=self.log, stderr=subprocess.STDOUT,
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
