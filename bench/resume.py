#!/usr/bin/env python
"""TrainModel after a kill at about 60% of training against an uninterrupted one: `python bench/resume.py`.

On an N-record synthetic Parquet file (`--rows`, default 1e6, made by `bench/generate.py` under the gitignored
`bench/data/`), with exactly `--epochs` epochs (n_iter_no_change = model_epochs) trained by chunks
(`max_in_memory_rows` below the train rows, as at 1e7), each in its own temp folder:
1. an uninterrupted run, a checkpoint after every epoch (checkpoint_min_seconds=0);
2. the same without checkpoints (`checkpoint_every_epochs` above the epochs): what keeping them costs;
3. a run SIGKILLed once its checkpoint reaches `--kill-at` of the epochs, then its rerun.
Reports TrainModel's wall time of each from the run record, the epoch the rerun resumed from, the checkpoint's
size, and whether the rerun deployed the same model (test metrics, and every test prediction bit for bit).
Writes bench/resume_results.json and bench/sections/resume.md, then rebuilds bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

PROJECT_DIR = Path(__file__).resolve().parents[1]
BENCH = PROJECT_DIR / "bench"
SECTION = BENCH / "sections" / "resume.md"
sys.path.insert(0, str(PROJECT_DIR))  # the TrainModel output unpickles into the project's classes
RESUMED = re.compile(r"resuming TrainModel from epoch (\d+) checkpoint")


def synthetic_file(rows: int) -> Path:
    path = BENCH / "data" / f"resume_{rows}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(BENCH / "generate.py"), str(rows), str(path)], check=True)
    return path


def environment(workdir: Path, data: Path, args: argparse.Namespace, every: int = 1) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "CLOUD"))}
    env.update(APP_DATA_PATH=str(data), APP_TARGET_DIR=str(workdir / "targets"),
               APP_REGISTRY_DIR=str(workdir / "models"), APP_MODEL_EPOCHS=str(args.epochs),
               APP_N_ITER_NO_CHANGE=str(args.epochs), APP_MAX_IN_MEMORY_ROWS=str(args.max_in_memory_rows),
               APP_CHECKPOINT_EVERY_EPOCHS=str(every), APP_CHECKPOINT_MIN_SECONDS="0")
    return env


def run(workdir: Path, env: dict[str, str]) -> dict:
    """One whole run.py; its TrainModel seconds, the epoch it resumed from, its test metrics and predictions."""
    result = subprocess.run([sys.executable, str(PROJECT_DIR / "run.py")], cwd=workdir, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"run.py failed in {workdir}:\n{result.stderr[-3000:]}")
    record = json.loads((workdir / "targets" / "runs.jsonl").read_text().splitlines()[-1])
    train = next(task for task in record["tasks"] if task["family"] == "TrainModel")
    version = record["deployed"]
    metrics = json.loads((workdir / "models" / "bostonhouseonline" / version / "metadata.json").read_text())
    trained = joblib.load(workdir / "targets" / train["target"])
    resumed = RESUMED.search(result.stderr)
    return {"train_s": train["seconds"], "resumed_from": int(resumed.group(1)) if resumed else 0,
            "metrics": metrics["metrics"]["test"], "predictions": trained.y_test_predicted,
            "epochs_run": trained.training["epochs_run"],
            "left_checkpoints": sorted(path.name for path in (workdir / "targets").glob("checkpoints/*"))}


def checkpoint_record(workdir: Path) -> dict | None:
    for path in (workdir / "targets" / "checkpoints").glob("TrainModel.*.pkl.sha256"):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
    return None


def kill_at(workdir: Path, env: dict[str, str], epoch: int) -> dict:
    """Start run.py and SIGKILL it once its checkpoint says `epoch`; how long it ran and what it left."""
    started = time.monotonic()
    with open(workdir / "killed.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py")], cwd=workdir, env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
        while process.poll() is None and ((checkpoint_record(workdir) or {}).get("summary") or {}).get("epoch",
                                                                                                     0) < epoch:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    if process.returncode != -signal.SIGKILL:
        sys.exit(f"the run ended before epoch {epoch} was kept (exit {process.returncode})")
    record = checkpoint_record(workdir) or {}
    return {"killed_after_s": time.monotonic() - started, "checkpoint_epoch": record.get("summary", {}).get("epoch"),
            "checkpoint_bytes": record.get("size")}


def measure(folder: Path, args: argparse.Namespace) -> dict:
    data = synthetic_file(args.rows)
    folders = {name: folder / name for name in ("clean", "no_checkpoints", "killed")}
    for path in folders.values():
        path.mkdir()
    clean = run(folders["clean"], environment(folders["clean"], data, args))
    bare = run(folders["no_checkpoints"], environment(folders["no_checkpoints"], data, args, every=args.epochs + 1))
    killed_env = environment(folders["killed"], data, args)
    kill = kill_at(folders["killed"], killed_env, math.ceil(args.kill_at * args.epochs))
    rerun = run(folders["killed"], killed_env)
    return {
        "rows": args.rows, "epochs": args.epochs, "max_in_memory_rows": args.max_in_memory_rows,
        "load_average": os.getloadavg()[0], **kill,
        "clean_train_s": clean["train_s"], "no_checkpoints_train_s": bare["train_s"],
        "rerun_train_s": rerun["train_s"], "resumed_from": rerun["resumed_from"],
        "ratio": rerun["train_s"] / clean["train_s"],
        "epochs_trained_after_resume": args.epochs - rerun["resumed_from"],
        "same_metrics": rerun["metrics"] == clean["metrics"] == bare["metrics"],
        "same_predictions": bool(np.array_equal(rerun["predictions"], clean["predictions"])),
        "test_rmse": clean["metrics"].get("rmse"), "left_checkpoints": rerun["left_checkpoints"],
    }


def sample_overhead() -> dict:
    """TrainModel's training on the bundled sample at the committed settings (hundreds of epochs of a few ms),
    in this process: CPU and wall seconds without checkpoints, with one after every epoch, and as committed."""
    import logging

    import pandas as pd

    from app.functions.model import ModelSettings, build_model
    from app.functions.settings import SETTINGS
    from carolbatch.storage.stores import LocalStore
    from carolbatch.training.checkpoints import Checkpoints, checkpoint_name
    from carolbatch.training.fitting import train_model
    from carolbatch.training.split import identity_rule, split_by_identity

    logging.disable(logging.INFO)
    value = SETTINGS.defaults()
    frame = pd.read_csv(PROJECT_DIR / value["data_path"])
    rule = identity_rule(value["id_column"], [*value["feature_columns"], value["target_column"]],
                         value["random_state"], value["test_size"], value["validation_size"])
    split = split_by_identity(frame, rule)
    settings = ModelSettings(tuple(value["model_hidden_layers"]), value["model_l2regularization"],
                             value["model_batch_size"], value["model_epochs"], value["n_iter_no_change"], value["tol"],
                             value["max_in_memory_rows"], value["random_state"], tuple(value["feature_columns"]),
                             tuple(value["categorical_columns"]))
    measured = {}
    for label, min_seconds in (("none", None), ("every epoch", 0.0),
                               ("committed", value["checkpoint_min_seconds"])):
        with tempfile.TemporaryDirectory() as folder:
            checkpoints = None if min_seconds is None else Checkpoints(
                LocalStore(Path(folder)), checkpoint_name("", "TrainModel", "0" * 64), "TrainModel",
                value["checkpoint_every_epochs"], min_seconds)
            wall, cpu = time.perf_counter(), time.process_time()
            trained = train_model(frame, list(value["feature_columns"]), value["target_column"], split,
                                  build_model(settings, len(split.train_rows)), None, checkpoints)
            measured[label] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                               "epochs": trained.epochs_run}
    return measured


def write_section(result: dict) -> None:
    rows = f"{result['rows']:.0e}".replace("e+0", "e")
    lines = [
        "## Resuming a killed training (bench/resume.py)", "",
        f"{rows} synthetic records (Parquet), {result['epochs']} epochs exactly (n_iter_no_change = model_epochs), "
        f"trained by chunks (max_in_memory_rows={result['max_in_memory_rows']}); load average "
        f"{result['load_average']:.1f} at the end. TrainModel wall seconds from the run record "
        "(`python bench/resume.py --rows 10000000 --epochs 5`; the default, 1e6 records and 10 epochs, takes about "
        "five minutes).", "",
        "| run | TrainModel s | epochs trained |", "| --- | --- | --- |",
        f"| uninterrupted, checkpoint after every epoch | {result['clean_train_s']:.1f} | {result['epochs']} |",
        f"| uninterrupted, no checkpoints | {result['no_checkpoints_train_s']:.1f} | {result['epochs']} |",
        f"| rerun after a SIGKILL {result['killed_after_s']:.0f} s into the run, checkpoint of epoch "
        f"{result['checkpoint_epoch']} | {result['rerun_train_s']:.1f} | {result['epochs_trained_after_resume']} |",
        "", "| check | measured | result |", "| --- | --- | --- |",
        f"| rerun's TrainModel <= 0.75x uninterrupted | {result['ratio']:.2f}x | "
        f"{'pass' if result['ratio'] <= 0.75 else 'FAIL'} |",
        f"| same test metrics (RMSE {result['test_rmse']:.4f}) and bit-identical test predictions | "
        f"{result['same_metrics']} / {result['same_predictions']} | "
        f"{'pass' if result['same_metrics'] and result['same_predictions'] else 'FAIL'} |",
        f"| no checkpoint left after the rerun | {len(result['left_checkpoints'])} files | "
        f"{'pass' if not result['left_checkpoints'] else 'FAIL'} |", "",
        f"A checkpoint held {result['checkpoint_bytes']} bytes.", "",
        "On the bundled sample at the committed settings, where an epoch takes a few milliseconds, a checkpoint "
        "after every epoch would cost more than the training (joblib pickles the loss curves object by object); "
        "`checkpoint_min_seconds` (committed: 10 s) spaces them out. Training in this process:", "",
        "| checkpoints | epochs | wall s | CPU s |", "| --- | --- | --- | --- |",
        *(f"| {label} | {row['epochs']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} |"
          for label, row in result["sample_overhead"].items()), "",
    ]
    SECTION.parent.mkdir(exist_ok=True)
    SECTION.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records of the synthetic file")
    parser.add_argument("--epochs", type=int, default=10, help="epochs every run trains")
    parser.add_argument("--kill-at", type=float, default=0.6, help="kill once this share of the epochs is kept")
    parser.add_argument("--max-in-memory-rows", type=int, default=100_000, help="below the train rows: by chunks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="resume-bench-") as folder:
        result = measure(Path(folder), args)
    # Kept before the sample's part runs: the measurement above takes many minutes.
    (BENCH / "resume_results.json").write_text(json.dumps(result, indent=2) + "\n")
    result["sample_overhead"] = sample_overhead()
    (BENCH / "resume_results.json").write_text(json.dumps(result, indent=2) + "\n")
    write_section(result)
    sys.path.insert(0, str(BENCH))
    from report import write_results  # bench/report.py, beside this file

    write_results(json.loads((BENCH / "results.json").read_text()), BENCH / "RESULTS.md")
    print(SECTION.read_text())


if __name__ == "__main__":
    main()
