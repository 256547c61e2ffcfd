#!/usr/bin/env python
"""The physical floor of ingestion on this machine: read the needed columns, write their bytes to disk.

`python bench/baseline.py DATA_FILE SCRATCH_FILE [REPEATS]` prints one JSON line:
`{"read_s", "write_s", "bytes", "rows"}`. The read is `pyarrow.parquet.read_table` (or
`pyarrow.csv.read_csv`) of the app's columns; the write puts exactly the table's buffers into
SCRATCH_FILE and fsyncs it, the least any durable copy of the records can cost. SCRATCH_FILE is removed.
Each is measured REPEATS times: the fastest is the floor (memory already faulted in, no noise of a
shared machine); the first is what a fresh process pays, as the app's IngestRecords does.
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


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]), *(int(arg) for arg in sys.argv[3:4]))))
