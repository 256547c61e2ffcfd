"""Start the online app: settings and Carol session once, then gunicorn workers each following the model.

    python -m online [--bind HOST:PORT] [--workers N] [--threads N] [--request-seconds S] [--access-log]

Exit codes: 1 Carol could not be reached or gunicorn could not start, 2 bad settings or usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.util import parse_address
from threadpoolctl import threadpool_limits

from carolbatch.control.logging_setup import json_formatter
from carolbatch.control.startup import RegistryAccess, open_registry
from carolbatch.definition import AppDefinition
from carolbatch.errors import AppError
from carolbatch.online.api import create_api
from carolbatch.online.follower import ModelFollower
from carolbatch.online.metrics import MULTIPROCESS_DIR, worker_gone
from carolbatch.online.source import CarolModelSource, LocalModelSource
from carolbatch.online.worker import DEFAULT_REQUEST_SECONDS, GuardedThreadWorker

# Carol routes an online app's traffic to port 5000 of its container.
DEFAULT_BIND = "0.0.0.0:5000"

logger = logging.getLogger(__name__)


# Request threads per worker: a thread waits for a slow client's request for up to --request-seconds, so
# there are enough of them for many slow clients at once (they cost little memory; predictions take turns).
DEFAULT_THREADS = 32
# BLAS threads per worker process (see OnlineServer.load).
BLAS_THREADS = 1
# gunicorn's limits for a server that clients reach directly (see the README, "The online app").
EXPOSED_LIMITS = {
    "keepalive": 2,  # seconds a kept-alive or new connection may stay silent before it is closed
    "worker_connections": 1000,  # open connections per worker; the worker stops accepting beyond
    "limit_request_line": 4094, "limit_request_fields": 50, "limit_request_field_size": 8190,
    "timeout": 60,  # a worker whose main loop is silent this long (stuck) is restarted
    "graceful_timeout": 20,
}


class UsageParser(argparse.ArgumentParser):
    """argparse that ends a usage error with one line and exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see python -m online --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = UsageParser(prog="python -m online", description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=DEFAULT_BIND, help=f"address to listen on (default {DEFAULT_BIND})")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"request threads per worker (default {DEFAULT_THREADS})")
    parser.add_argument("--request-seconds", type=float, default=DEFAULT_REQUEST_SECONDS,
                        help=f"time a request may take to arrive (default {DEFAULT_REQUEST_SECONDS:g})")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not (1 <= args.workers <= 64 and 1 <= args.threads <= 1024):
        parser.error("--workers must be from 1 to 64 and --threads from 1 to 1024")
    if not 0.1 <= args.request_seconds <= 3600:
        parser.error("--request-seconds must be from 0.1 to 3600")
    problem = bind_problem(args.bind)
    if problem:
        parser.error(f"--bind {args.bind!r}: {problem}")
    return args


def bind_problem(bind: str) -> str:
    """What is wrong with a `--bind` address as gunicorn reads it, or ''."""
    try:
        address = parse_address(bind)
    except (RuntimeError, ValueError) as error:
        return str(error)
    if isinstance(address, tuple) and not 0 <= address[1] <= 65535:
        return f"port {address[1]} is not from 0 to 65535"
    return ""


class JsonLogger(Logger):
    """gunicorn's own log lines as JSON objects, like the app's."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter(None))


class OnlineServer(BaseApplication):
    """gunicorn running the API; each worker loads and follows the model itself (nothing shared over fork)."""

    def __init__(self, access: RegistryAccess, args: argparse.Namespace) -> None:
        self.access = access
        self.args = args
        super().__init__()

    def load_config(self) -> None:
        options = {
            "bind": self.args.bind, "workers": self.args.workers, "threads": self.args.threads,
            "worker_class": GuardedThreadWorker, "accesslog": "-" if self.args.access_log else None,
            "logger_class": JsonLogger, "proc_name": f"online-{self.access.settings.deploy_app}",
            # This gunicorn opens a control socket under $HOME by default; servers side by side would share it.
            "control_socket_disable": True,
            "worker_exit": end_worker_process,
            "child_exit": lambda _server, worker: worker_gone(worker.pid),
            **EXPOSED_LIMITS,
        }
        GuardedThreadWorker.request_seconds = self.args.request_seconds
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self):
        # Each worker's BLAS on one thread: workers and request threads already share the cores, and BLAS
        # threads on top of them oversubscribe the CPU (a 1,000-record prediction took 2-3x longer).
        threadpool_limits(BLAS_THREADS)
        settings = self.access.settings
        if self.access.carol is None:
            source = LocalModelSource(Path(settings.registry_dir), settings.deploy_app)
        else:
            source = CarolModelSource(self.access.carol, settings.deploy_app)
        follower = ModelFollower(source, settings.deploy_app, settings.model_poll_seconds)
        follower.start()
        return create_api(follower, settings.max_request_records)


def end_worker_process(_server, worker) -> None:
    """Leave a worker process with `os._exit`, as multiprocessing's forked children do.

    A normal interpreter exit in a process forked after duckdb was imported (pycarol imports it) aborts
    ("terminate called without an active exception") once the process has started a thread.
    gunicorn also calls this hook in the master for a worker already gone: nothing to do there.
    """
    if os.getpid() != worker.pid:
        return
    error = sys.exc_info()[1]
    code = error.code if isinstance(error, SystemExit) and isinstance(error.code, int) else int(error is not None)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def configure_json_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter(None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(app: AppDefinition, project_dir: Path, argv: list[str] | None = None) -> int:
    """Serve the app's deployed model: `app` and `project_dir` (its settings.toml) from the app's entry."""
    args = parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    configure_json_logging()
    try:
        access = open_registry(app, project_dir, dict(os.environ), [])
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    logger.info("serving the current model of %s from %s on %s", access.settings.deploy_app,
                access.store.describe(access.settings.deploy_app), args.bind)
    # The workers' metrics, summed over all of them at each scrape: a folder of this server's own.
    with tempfile.TemporaryDirectory(prefix="online-metrics-") as metrics_dir:
        os.environ[MULTIPROCESS_DIR] = metrics_dir
        OnlineServer(access, args).run()
    return 0
