#!/usr/bin/env python
"""Deterministic Boston-shaped synthetic records of any size, as CSV or Parquet, written in chunks.

`python bench/generate.py ROWS OUT.(csv|parquet) [--seed S]`

Each chunk resamples rows of the bundled 506-record sample, jitters the continuous columns by a
fraction of their spread and renumbers `sample`, so every column keeps the sample's type and range
and the target stays learnable. Chunk `k` depends only on (seed, k): any size is reproducible, and a
file of N rows starts with the same records as every larger one. Memory stays at one chunk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "boston_house_prices.csv"
CHUNK_ROWS = 1 << 20
# Columns whose values are categories or codes: resampled, never jittered.
DISCRETE = ("sample", "CHAS", "RAD", "TAX", "ZN")
JITTER = 0.05
DECIMALS = 4


def generate_chunk(base: pd.DataFrame, first_row: int, rows: int, seed: int) -> pa.Table:
    """Rows `first_row`..`first_row + rows` of the synthetic data set (`first_row` is a chunk start)."""
    # A whole chunk is always drawn, then cut, so a row's values never depend on the file size.
    generator = np.random.default_rng([seed, first_row // CHUNK_ROWS])
    picked = base.iloc[generator.integers(0, len(base), size=CHUNK_ROWS)[:rows]]
    columns = {"sample": np.arange(first_row, first_row + rows, dtype="int64")}
    for name in base.columns[1:]:
        values = picked[name].to_numpy()
        if name not in DISCRETE:
            noise = generator.normal(0.0, JITTER * base[name].std(), size=CHUNK_ROWS)[:rows]
            low, high = base[name].min(), base[name].max()
            values = np.round(np.clip(values + noise, low, high), DECIMALS)
        columns[name] = values
    return pa.table(columns)


def write_records(path: Path, rows: int, seed: int = 0) -> Path:
    """Write `rows` synthetic records to `path` (`.csv` or `.parquet`) atomically; returns `path`."""
    base = pd.read_csv(SAMPLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    schema = generate_chunk(base, 0, 1, seed).schema
    if path.suffix == ".parquet":
        writer = pq.ParquetWriter(partial, schema, compression="snappy")
    else:
        writer = pa_csv.CSVWriter(partial, schema)
    with writer:
        for first_row in range(0, rows, CHUNK_ROWS):
            writer.write_table(generate_chunk(base, first_row, min(CHUNK_ROWS, rows - first_row), seed))
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=float, help="number of records (1e6 is accepted)")
    parser.add_argument("out", type=Path, help="output file, .csv or .parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_records(args.out, int(args.rows), args.seed)


if __name__ == "__main__":
    main()
