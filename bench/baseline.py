#!/usr/bin/env python
"""The physical floor of ingestion on this machine: read the needed columns, write their bytes to disk.

`python bench/baseline.py DATA_FILE SCRATCH_FILE` prints one JSON line:
`{"read_s", "write_s", "bytes", "rows"}`. The read is `pyarrow.parquet.read_table` (or
`pyarrow.csv.read_csv`) of the app's columns; the write puts exactly the table's buffers into
SCRATCH_FILE and fsyncs it, the least any durable copy of the records can cost. SCRATCH_FILE is removed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

COLUMNS = ["sample", "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B",
           "LSTAT", "target"]


def measure(data: Path, scratch: Path) -> dict:
    started = time.perf_counter()
    if data.suffix == ".parquet":
        table = pq.read_table(data, columns=COLUMNS)
    else:
        table = pa_csv.read_csv(data, convert_options=pa_csv.ConvertOptions(include_columns=COLUMNS))
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    written = 0
    with open(scratch, "wb") as handle:
        for column in table.columns:
            for chunk in column.chunks:
                for buffer in chunk.buffers():
                    if buffer is not None:
                        written += handle.write(buffer)
        handle.flush()
        os.fsync(handle.fileno())
    write_s = time.perf_counter() - started
    scratch.unlink()
    return {"read_s": read_s, "write_s": write_s, "bytes": written, "rows": table.num_rows}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]))))
