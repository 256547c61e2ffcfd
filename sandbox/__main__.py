"""`python -m sandbox [serve|ls|fault|stage]`: run the Carol stand-in, list its apps' storage, make an endpoint fail, stage a file."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path

from app.functions.settings import APP_DEFAULTS
from sandbox.server import sample_table
from sandbox.tenant import TASK_LOG_FAULTS

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE_DATA = PROJECT_DIR / APP_DEFAULTS["data_path"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("serve", "ls", "fault", "stage"), default="serve",
                        help="serve (default): start the stand-in; ls: list the apps' storage of a running one; "
                             "fault: set how an endpoint answers (--task-logs); "
                             "stage: load a Parquet file (bench/generate.py output) as a staging table")
    parser.add_argument("--task-logs", choices=TASK_LOG_FAULTS, default="ok",
                        help="with fault: the task-log endpoint answers normally, 500, or hangs")
    parser.add_argument("--refuse-storage", nargs="*", default=[], metavar="APP",
                        help="with fault: refuse these apps' storage token (403); none given heals all")
    parser.add_argument("--folder", type=Path, default=Path("sandbox_data"),
                        help="keeps settings, staging tables, storage and task logs (default ./sandbox_data)")
    parser.add_argument("--carol-port", type=int, default=8443, help="HTTPS port of the Carol API (0: any free)")
    parser.add_argument("--storage-port", type=int, default=9023, help="port of the storage emulator (0: any free)")
    parser.add_argument("--env-file", type=Path, default=Path(".env.sandbox"),
                        help="where to write the environment to export (default ./.env.sandbox)")
    parser.add_argument("--no-sample", action="store_true",
                        help="do not stage the bundled sample data in a new sandbox")
    parser.add_argument("--storage-read-port", type=int, default=9061,
                        help="port of the BigQuery Storage Read API, gRPC (0: any free)")
    parser.add_argument("--refuse-storage-read", action="store_true",
                        help="refuse the BigQuery Storage Read API, as a project where it is disabled")
    parser.add_argument("--storage-read-streams", type=int, default=None, metavar="N",
                        help="streams a Storage Read session gets when the client leaves it to the server (default 4)")
    staging = parser.add_argument_group("stage")
    staging.add_argument("--file", type=Path, help="the Parquet file to stage")
    connector, staging_name, id_column = sample_table()
    staging.add_argument("--connector", default=connector, help=f"connector name (default {connector})")
    staging.add_argument("--staging", default=staging_name, help=f"staging name (default {staging_name})")
    staging.add_argument("--id-column", default=id_column,
                         help=f"the column whose value becomes mdmId (default {id_column})")
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> int:
    from sandbox.server import start_sandbox, write_environment
    from sandbox.storage_read import set_storage_read_api, set_storage_read_streams

    args.folder.mkdir(parents=True, exist_ok=True)
    set_storage_read_api(args.folder, not args.refuse_storage_read)
    if args.storage_read_streams is not None:
        set_storage_read_streams(args.folder, args.storage_read_streams)
    sandbox = start_sandbox(args.folder, args.carol_port, args.storage_port, None if args.no_sample else SAMPLE_DATA,
                            args.storage_read_port)
    environment = sandbox.environment()
    write_environment(args.env_file, environment)
    print(f"Carol sandbox running; its files are in {sandbox.folder}", flush=True)
    print("Export this environment (also written to %s), then run `python run.py`:" % args.env_file)
    for name, value in environment.items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"Edit {sandbox.folder / 'apps.json'} to change app settings. Stop with Ctrl-C.", flush=True)
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    stopped.wait()
    sandbox.stop()
    print("Carol sandbox stopped", flush=True)
    return 0


def list_storage(args: argparse.Namespace) -> int:
    from dotenv import dotenv_values

    from sandbox.storage import list_app_objects
    from sandbox.tenant import open_tenant, read_apps

    environment = dotenv_values(args.env_file)
    if not environment.get("STORAGE_EMULATOR_HOST"):
        print(f"error: {args.env_file} has no STORAGE_EMULATOR_HOST; start the sandbox first", file=sys.stderr)
        return 2
    tenant = open_tenant(args.folder)
    for app_name in read_apps(args.folder):
        names = list_app_objects(environment["STORAGE_EMULATOR_HOST"], tenant.bucket, app_name)
        print(f"{app_name}: {len(names)} objects")
        for name in names:
            print(f"  {name}")
    return 0


def set_faults(args: argparse.Namespace) -> int:
    from sandbox.tenant import refuse_storage, set_fault

    set_fault(args.folder, "task_logs", args.task_logs)
    refuse_storage(args.folder, args.refuse_storage)
    print(f"sandbox {args.folder}: task-log endpoint {args.task_logs}; "
          f"storage refused to {', '.join(args.refuse_storage) or 'no app'}")
    return 0


def stage(args: argparse.Namespace) -> int:
    from sandbox.staging import stage_file

    if args.file is None or not args.file.is_file():
        print(f"error: stage needs --file, an existing Parquet file (got {args.file})", file=sys.stderr)
        return 2
    path = stage_file(args.folder.resolve(), args.connector, args.staging, args.file, args.id_column)
    print(f"staged {args.file} as stg_{args.connector}_{args.staging} ({path})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    return {"serve": serve, "ls": list_storage, "fault": set_faults, "stage": stage}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
