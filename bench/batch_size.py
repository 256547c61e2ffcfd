#!/usr/bin/env python
"""Epoch throughput and test RMSE of TrainModel's training against the mini-batch size.

`python bench/batch_size.py --rows 1e6 --batches 200,1000,4096 [--epochs N] [--n-iter-no-change K]`

For each batch size, in this one process: the app's own `train_model` (default network, split and
stopping rule unless --epochs/--n-iter-no-change say otherwise) on bench/generate.py records, then
the NumPy floor (bench/baseline.py `training_floor`) of the same network at the same batch size, so
both see the same machine load. Results go to bench/results.json under `batch:<rows>:<batch>`;
bench/report.py shows them in RESULTS.md ("Batch size").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from baseline import training_floor  # noqa: E402
from run_bench import RESULTS_JSON, ensure_data  # noqa: E402

from app.functions.model import ModelSettings, build_model  # noqa: E402
from app.pipeline import APP  # noqa: E402
from carolbatch.settings.layers import build_settings, read_settings_file  # noqa: E402
from carolbatch.records.sources import read_records, validate_records  # noqa: E402
from carolbatch.training.epochs import StoppingRule  # noqa: E402
from carolbatch.training.fitting import split_records, train_model  # noqa: E402


class SpeedCatcher(logging.Handler):
    """Keeps the `training_speed` extra of train_model's last log line."""

    speed: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "training_speed"):
            self.speed = dict(record.training_speed)


def measure_batch(records, settings, batch: str, rule: StoppingRule) -> dict:
    """Train once at `batch` and measure the floor right after; the facts of both."""
    catcher = SpeedCatcher()
    logging.getLogger("carolbatch.training.partial_fit").addHandler(catcher)
    logging.getLogger("carolbatch.training.partial_fit").setLevel(logging.INFO)
    split = split_records(len(records), settings.test_size, settings.validation_size, settings.random_state)
    model = build_model(ModelSettings(tuple(settings.model_hidden_layers), settings.model_l2regularization, batch,
                                      rule.max_epochs, rule.n_iter_no_change, rule.tol, settings.max_in_memory_rows,
                                      settings.random_state, settings.feature_columns), len(split.train_rows))
    started = time.perf_counter()
    trained = train_model(records, settings.feature_columns, settings.target_column, split, model)
    seconds = time.perf_counter() - started
    test_rmse = float(np.sqrt(np.mean((trained.y_test - trained.y_test_predicted) ** 2)))
    floor = training_floor(settings.model_hidden_layers, model.batch_size)
    return {"batch_setting": batch, "training": dict(trained.training), "speed": catcher.speed,
            "train_seconds": seconds,
            "test_rmse": test_rmse, "floor": floor, "load_average": os.getloadavg(),
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, required=True)
    parser.add_argument("--batches", default="200,1000,4096,16384", help="comma-separated; may include auto")
    parser.add_argument("--epochs", type=int, help="model_epochs (default: the committed setting)")
    parser.add_argument("--n-iter-no-change", type=int, help="default: the committed setting")
    args = parser.parse_args()
    rows = int(args.rows)
    overrides = {key: value for key, value in (("model_epochs", args.epochs),
                                               ("n_iter_no_change", args.n_iter_no_change)) if value}
    settings = build_settings(APP.settings, [("default", APP.settings.defaults()),
                                             ("settings.toml", read_settings_file(BENCH.parent / "settings.toml")),
                                             ("command line", overrides)])
    rule = StoppingRule(settings.model_epochs, settings.n_iter_no_change, settings.tol)
    columns = [settings.id_column, *settings.feature_columns, settings.target_column]
    frame = read_records(ensure_data(rows, "parquet"), columns, columns[1:], id_column=settings.id_column)
    records = validate_records(frame, settings.feature_columns, settings.target_column, settings.id_column,
                               "bench").frame
    for batch in args.batches.split(","):
        result = {"rows": rows, "rule": vars(rule), **measure_batch(records, settings, batch, rule)}
        results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        results[f"batch:{rows}:{batch}"] = result
        RESULTS_JSON.write_text(json.dumps(results, indent=1, sort_keys=True))
        print(json.dumps({key: result[key] for key in ("batch_setting", "train_seconds", "test_rmse")}
                         | {"rows_per_second": result["speed"]["fastest_epoch_rows_per_second"],
                            "floor": result["floor"]["rows_per_second"], "epochs": result["training"]["epochs_run"]}),
              flush=True)


if __name__ == "__main__":
    main()
