#!/usr/bin/env python
"""Physical floors on this machine: of ingestion (read the needed columns, write their bytes to disk) and
of training (a bare NumPy forward and backward pass of the app's network).

`python bench/baseline.py DATA_FILE SCRATCH_FILE [REPEATS]` prints one JSON line:
`{"read_s", "write_s", "bytes", "rows"}`. The read is `pyarrow.parquet.read_table` (or
`pyarrow.csv.read_csv`) of the app's columns; the write puts exactly the table's buffers into
SCRATCH_FILE and fsyncs it, the least any durable copy of the records can cost. SCRATCH_FILE is removed.
Each is measured REPEATS times: the fastest is the floor (memory already faulted in, no noise of a
shared machine); the first is what a fresh process pays, as the app's IngestRecords does.

`python bench/baseline.py --network 128,64 --batch-size 4096 [--rows 400000]` prints
`{"rows_per_second", ...}`: one epoch of `numpy_epoch` over random standardised rows. Call
`training_floor` in the process that trains, so both see the same machine load.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

COLUMNS = ["sample", "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B",
           "LSTAT", "target"]


REPEATS = 3


def read_table(data: Path):
    if data.suffix == ".parquet":
        return pq.read_table(data, columns=COLUMNS)
    return pa_csv.read_csv(data, convert_options=pa_csv.ConvertOptions(include_columns=COLUMNS))


def write_table(table, scratch: Path) -> int:
    written = 0
    with open(scratch, "wb") as handle:
        for column in table.columns:
            for chunk in column.chunks:
                # The chunk's own values (zero-copy): its buffers() may be a larger shared parent buffer.
                written += handle.write(chunk.to_numpy(zero_copy_only=False).data)
        handle.flush()
        os.fsync(handle.fileno())
    scratch.unlink()
    return written


def timed(action, repeats: int) -> tuple[list[float], object]:
    """`repeats` timings of `action()`, in order, with its last result."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - started)
    return timings, result


def measure(data: Path, scratch: Path, repeats: int = REPEATS) -> dict:
    """The fastest timings (a warm process: memory already faulted in, the floor), and the first ones
    (a fresh process, as the app's IngestRecords runs)."""
    reads, table = timed(lambda: read_table(data), repeats)
    writes, written = timed(lambda: write_table(table, scratch), repeats)
    return {"read_s": min(reads), "write_s": min(writes), "read_first_s": reads[0], "write_first_s": writes[0],
            "bytes": written, "rows": table.num_rows}


def numpy_epoch(features: np.ndarray, target: np.ndarray, weights: list, biases: list, batch_size: int,
                learning_rate: float = 1e-3, alpha: float = 1e-4) -> None:
    """One pass of mini-batch gradient descent of a ReLU network with a linear output, in place: per batch
    the forward pass, the squared-error gradient, the backward pass and a plain gradient step (with L2)."""
    for start in range(0, len(features), batch_size):
        activations = [features[start:start + batch_size]]
        for layer, (weight, bias) in enumerate(zip(weights, biases)):
            out = activations[-1] @ weight + bias
            activations.append(out if layer == len(weights) - 1 else np.maximum(out, 0.0, out=out))
        delta = (activations[-1] - target[start:start + batch_size, None]) / len(activations[0])
        for layer in range(len(weights) - 1, -1, -1):
            weight_grad = activations[layer].T @ delta + alpha * weights[layer]
            bias_grad = delta.sum(axis=0)
            if layer:
                delta = delta @ weights[layer].T
                delta *= activations[layer] > 0
            weights[layer] -= learning_rate * weight_grad
            biases[layer] -= learning_rate * bias_grad


def training_floor(hidden_layers, batch_size: int, rows: int = 400_000, features: int = 13, seed: int = 0,
                   repeats: int = 3) -> dict:
    """Rows per second of `numpy_epoch` over `rows` random rows of float64 (the app's default dtype), on one
    BLAS thread as TrainModel trains; the fastest of `repeats` epochs (the least disturbed by a shared machine)."""
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(rows, features))
    y = generator.normal(size=rows)
    sizes = [features, *hidden_layers, 1]
    weights = [generator.normal(scale=(2 / n_in) ** 0.5, size=(n_in, n_out)) for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [np.zeros(n_out) for n_out in sizes[1:]]
    with threadpool_limits(1, user_api="blas"):
        numpy_epoch(x[:batch_size * 4], y[:batch_size * 4], weights, biases, batch_size)  # warm up
        timings, _ = timed(lambda: numpy_epoch(x, y, weights, biases, batch_size), repeats)
    seconds = min(timings)
    return {"rows_per_second": rows / seconds, "rows": rows, "seconds": seconds, "batch_size": batch_size,
            "hidden_layers": list(hidden_layers)}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--network"]:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--network", required=True, help="hidden layer sizes, comma-separated")
        parser.add_argument("--batch-size", type=int, required=True)
        parser.add_argument("--rows", type=int, default=400_000)
        args = parser.parse_args()
        print(json.dumps(training_floor([int(size) for size in args.network.split(",")], args.batch_size,
                                        args.rows)))
    else:
        print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]), *(int(arg) for arg in sys.argv[3:4]))))
