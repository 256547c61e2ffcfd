"""The online app under real gunicorn facing abusive clients: slow and idle connections, hostile bodies."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from carolbatch.online.records import body_limit
from tests.app.online.server_process import ServerProcess, SlowClients, online_environment
from tests.conftest import PROJECT_DIR, run_app, summary_of

REQUEST_SECONDS = 3
HEALTH_SECONDS = 2  # the acceptance bound while slow clients are attached


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("exposed")
    result = run_app(workdir, "--set", "model_epochs=30")
    assert result.returncode == 0 and summary_of(result)["deployed"] != "none", result.stderr[-3000:]
    process = ServerProcess(workdir, online_environment(workdir), "--request-seconds", str(REQUEST_SECONDS))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def probe_health(server: ServerProcess, seconds: float) -> list[float]:
    """Latency of GET /health, on a new connection every 0.2 s for `seconds` seconds."""
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status, _ = server.get("/health")
        except OSError:
            status = None
        latencies.append(time.monotonic() - started if status == 200 else float("inf"))
        time.sleep(0.2)
    return latencies


def test_health_answers_within_2_s_while_16_clients_trickle_bodies_and_they_are_dropped(server):
    with SlowClients(server.port, count=16, interval=0.5) as slow:
        latencies = probe_health(server, REQUEST_SECONDS * 2 + 1)
        dropped = slow.dropped
    assert max(latencies) < HEALTH_SECONDS, latencies
    assert dropped >= 16 * 2, f"{dropped} slow clients dropped"  # each at every deadline


def test_a_body_sent_too_slowly_gets_408_json(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_SECONDS + 5) as client:
        client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[")
        started = time.monotonic()
        answer = b"".join(iter(lambda: client.recv(65536), b"")).decode()  # to the end: the server closes
    assert time.monotonic() - started < REQUEST_SECONDS + 2
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 408") and "not received in time" in json.loads(body)["error"]


def test_a_head_sent_line_by_line_too_slowly_is_dropped_at_the_deadline(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=1) as client:
        client.sendall(b"GET /health HTTP/1.1\r\n")
        started, closed = time.monotonic(), False
        while not closed and time.monotonic() - started < REQUEST_SECONDS + 3:
            try:
                client.sendall(b"X-Slow: 1\r\n")
                closed = client.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
    assert closed and time.monotonic() - started < REQUEST_SECONDS + 3


def unread_unknown_key(port: int, record: dict, key_bytes: int) -> socket.socket:
    """A client that sends `record` with an unknown key of `key_bytes` bytes and never reads the answer (its
    receive buffer as small as the system allows)."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(15)
    client.connect(("127.0.0.1", port))
    body = json.dumps({**record, "k" * key_bytes: 1}).encode()
    try:
        client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass  # dropped by the server: what it may do
    return client


def test_health_within_2_s_while_150_clients_never_read_and_500_send_only_a_request_line(server):
    record = dict.fromkeys(server.get("/model")[1]["feature_columns"], 0.5)
    line_only = []
    for _ in range(500):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(b"GET /health HTTP/1.1\r\n")
        line_only.append(connection)
    with ThreadPoolExecutor(30) as pool:
        unread = pool.map(lambda _: unread_unknown_key(server.port, record, 3_000_000), range(150))
        latencies = probe_health(server, REQUEST_SECONDS * 2 + 1)
        unread = list(unread)
    try:
        assert max(latencies) < HEALTH_SECONDS, latencies
        # The answer to an unknown key quotes a bounded part of it, not the 3 MB.
        unread[0].settimeout(5)
        answer = b"".join(iter(lambda: unread[0].recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 400") and len(answer) < 2000 and b"characters" in answer
    finally:
        for connection in line_only + unread:
            connection.close()


def test_idle_connections_are_closed_and_do_not_hold_request_threads(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(300)]
    try:
        assert max(probe_health(server, 1.5)) < HEALTH_SECONDS
        time.sleep(4)  # keepalive (2 s) and the worker's poll: the server has closed them
        closed = sum(connection.recv(1) == b"" for connection in idle)
    finally:
        for connection in idle:
            connection.close()
    assert closed == len(idle)


def body_of_records(count: int) -> bytes:
    return b"[" + b",".join([b"{}"] * count) + b"]"


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("name, body, status, words", [
    # As many empty records as the app's body limit lets through (two million for the sample's 13 features).
    ("a body limit's worth of empty records", "EMPTY_RECORDS", 400, "more than 10000 records"),
    ("100,000 levels of nesting", nested(100_000), 400, "objects or lists"),
    ("5,000 levels of nesting", b'{"CRIM":' + nested(5000) + b"}", 400, "nested too deeply"),
    ("a 5,000-digit integer", "7" * 5000, 400, "not a finite number"),
    ("1.7e308 in every feature", 1.7e308, 422, "training range"),
    ("-1.5e307 in every feature", -1.5e307, 422, "training range"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 60 else "")
def test_hostile_bodies_get_a_4xx_json_line_quickly_and_memory_stays_bounded(server, name, body, status, words):
    columns = server.get("/model")[1]["feature_columns"]
    if body == "EMPTY_RECORDS":
        body = body_of_records(min(2_000_000, (body_limit(columns, 10000) - 2) // 3))
    elif not isinstance(body, bytes):  # a record with this value in every feature
        body = json.dumps(dict.fromkeys(columns, 0.5)).replace("0.5", str(body)).encode()
    rss_before = max(server.worker_rss_mb())
    started = time.monotonic()
    got, answer = server.post("/predict", body)
    assert time.monotonic() - started < 10, name
    assert got == status and words in answer["error"] and "\n" not in answer["error"], (name, answer)
    assert max(server.worker_rss_mb()) < rss_before + 150, (name, server.worker_rss_mb(), rss_before)


def test_no_route_or_method_answers_html(server):
    assert server.get("/nothing")[0] == 404
    status, answer = server.get("/predict")
    assert status == 405 and "Method Not Allowed" in answer["error"]


def test_root_lists_the_routes(server):
    status, answer = server.get("/")
    assert status == 200 and {"GET /health", "POST /predict", "GET /model"} <= set(answer["routes"])


@pytest.mark.parametrize("args", [("--bind", "127.0.0.1:abc"), ("--bind", "127.0.0.1:70000"), ("--threads", "0"),
                                  ("--request-seconds", "nan")])
def test_usage_errors_exit_2_with_one_line(tmp_path, args):
    result = subprocess.run([sys.executable, "-m", "online", *args], cwd=PROJECT_DIR, timeout=60,
                            env={**online_environment(tmp_path), "PYTHONPATH": str(PROJECT_DIR)},
                            capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and args[0] in result.stderr


@pytest.mark.parametrize("value", ["1e10", "0", "inf"])
def test_a_poll_interval_out_of_bounds_stops_the_server_with_exit_2(tmp_path, value):
    env = {**online_environment(tmp_path, model_poll_seconds=value), "PYTHONPATH": str(PROJECT_DIR)}
    result = subprocess.run([sys.executable, "-m", "online", "--bind", "127.0.0.1:0"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: setting model_poll_seconds=")


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"GET /" + b"x" * 5000 + b" HTTP/1.1\r\n\r\n", 414),
])
def test_gunicorns_own_refusals_answer_one_json_line(server, request_bytes, status):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(request_bytes)
        answer = b"".join(iter(lambda: client.recv(65536), b"")).decode("latin1")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}") and "application/json" in head, answer
    assert json.loads(body)["error"].startswith(str(status)) and len(body) < 600


def test_an_invalid_chunk_size_gets_400_json(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n")
        answer = b"".join(iter(lambda: client.recv(65536), b"")).decode("latin1")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "chunk" in json.loads(body)["error"], answer
