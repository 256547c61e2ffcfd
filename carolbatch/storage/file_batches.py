"""Reading a file in pieces: a Parquet file's row groups with one read ahead, a CSV's line count."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def row_group_batches(parquet: pq.ParquetFile, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Row groups in order, the next one decoding (Arrow releases the GIL) while this one is copied.

    At most two row groups are in memory; `iter_batches` instead reads ahead several.
    """
    groups = range(parquet.num_row_groups)
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = [reader.submit(parquet.read_row_group, group, columns=list(columns)) for group in groups[:1]]
        for group in groups:
            table = pending.pop().result()
            if group + 1 < len(groups):
                pending.append(reader.submit(parquet.read_row_group, group + 1, columns=list(columns)))
            yield from table.to_batches(max_chunksize=batch_rows)


def count_lines(path: Path) -> int:
    """An upper bound of a CSV's data rows: its line count, read in large chunks."""
    lines = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
    return lines
