"""The Carol-mode section of bench/RESULTS.md, from bench/carol_results.json (written by bench/carol_bench.py)."""

from __future__ import annotations

import json
from pathlib import Path

MIB = 1 << 20
ALLOWANCE = 400 * MIB
TOKEN, METADATA = "POST /oauth2/token", "storage metadata GET"
PICKLE_BYTES = "storage download bytes of .pkl objects"


def _row(cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header, rows) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)]


def _limit(result: dict) -> float:
    return 2 * result["float64_bytes"] + ALLOWANCE


def _ingest_rows(results: list[dict]) -> list[list]:
    rows = []
    for result in results:
        ingest, local = result["tasks"].get("IngestRecords", {}), result.get("local_tasks", {}).get("IngestRecords", {})
        local_cpu = local.get("cpu_s", float("nan"))
        rows.append([
            f"{result['rows']:.0e}", result["route"], _streams(result), f"{result['float64_bytes'] / MIB:,.0f}",
            f"{ingest['wall_s']:.1f}", f"{ingest['cpu_s']:.1f}", f"{local['wall_s']:.2f}" if local else "-",
            f"{local_cpu:.2f}" if local else "-", f"{ingest['cpu_s'] / local_cpu:.1f}x" if local else "-",
            f"{result['peak_rss'] / MIB:,.0f}", f"{_limit(result) / MIB:,.0f}",
            f"{result['sandbox_cpu_s']:.1f}", f"{result['wall_s']:.0f}", f"{result['load_average'][0]:.1f}",
        ])
    return rows


def _streams(result: dict) -> str:
    """Streams read (the most at once); measured before the sandbox counted them: one (the query's ORDER BY)."""
    if result["route"] != "Storage Read API":
        return "-"
    if "streams_read" not in result:
        return "1 (ORDER BY)"
    return f"{result['streams_read']} ({result['streams_at_once']} at once)"


def _noop_rows(results: list[dict]) -> list[list]:
    rows = []
    for result in results:
        if "carol_noop" not in result or "local_noop" not in result:
            continue
        carol, local, made = result["carol_noop"], result["local_noop"], result["carol_noop"]["requests"]
        rows.append([
            f"{result['rows']:.0e}", f"{carol['wall_s']:.1f}", f"{local['wall_s']:.1f}",
            f"{carol['wall_s'] - local['wall_s']:+.1f}", f"{result['imports_s']:.1f}", made.get(TOKEN, 0),
            made.get(METADATA, 0), made.get("storage download", 0), f"{made.get('storage download bytes', 0):,}",
            made.get("storage read sessions", 0),
        ])
    return rows


def _acceptance_rows(results: list[dict]) -> list[list]:
    """The issue's checks: memory and CPU at 1e7 by the Storage Read API, memory at 1e6 by REST, no-op cost."""
    rows = []
    for result in results:
        storage = result["route"] == "Storage Read API"
        if (storage and result["rows"] == 10_000_000 and "streams_read" not in result) or (not storage and result["rows"] == 1_000_000):
            verdict = "pass" if result["peak_rss"] <= _limit(result) else "FAIL"
            rows.append([f"{result['rows']:.0e} via {result['route']}: app peak RSS <= 2x float64 + 400 MiB",
                         f"{result['peak_rss'] / MIB:,.0f} MiB <= {_limit(result) / MIB:,.0f} MiB", verdict])
        if storage and result["rows"] == 10_000_000 and "local_tasks" in result:
            ratio = result["tasks"]["IngestRecords"]["cpu_s"] / result["local_tasks"]["IngestRecords"]["cpu_s"]
            rows.append([f"{result['rows']:.0e}: IngestRecords app CPU <= 3x local Parquet ingest", f"{ratio:.2f}x",
                         "pass" if ratio <= 3 else "FAIL"])
        if "streams_read" in result and "local_peak_rss" in result:
            ratio = result["peak_rss"] / result["local_peak_rss"]
            rows.append([f"{result['rows']:.0e}, {result['streams_read']} streams: app peak RSS <= 1.4x local Parquet "
                         "run's", f"{ratio:.2f}x", "pass" if ratio <= 1.4 else "FAIL"])
        if "carol_noop" in result and "local_noop" in result:
            extra = result["carol_noop"]["wall_s"] - result["local_noop"]["wall_s"]
            rows.append([f"{result['rows']:.0e}: Carol no-op rerun <= local no-op + 3 s", f"{extra:+.1f} s",
                         "pass" if extra <= 3 else "FAIL"])
            made = result["carol_noop"]["requests"]
            pickles = made.get(PICKLE_BYTES, 0)  # the sandbox reports only counters that moved
            rows.append([f"{result['rows']:.0e}: Carol no-op rerun downloads no target bytes",
                         f"{pickles} bytes of targets and models; "
                         f"{made.get('storage download bytes', 0):,} bytes of records and the run log",
                         "pass" if pickles == 0 else "FAIL"])
            rows.append([f"{result['rows']:.0e}: Carol no-op rerun reuses one OAuth token",
                         f"{made.get(TOKEN, 0)} token requests", "pass" if made.get(TOKEN, 0) <= 1 else "FAIL"])
    return rows


def carol_section(path: Path) -> list[str]:
    """Markdown lines of the Carol-mode results, or none when nothing was measured."""
    if not path.exists():
        return []
    results = sorted(json.loads(path.read_text()).values(), key=lambda result: (result["route"], result["rows"]))
    return [
        "## Carol mode, through the sandbox (bench/carol_bench.py)",
        "",
        "run.py in Carol mode against `python -m sandbox` in its own process: staging table from bench/generate.py "
        "output, dedup query with SAFE_CAST to FLOAT64, result streamed by the BigQuery Storage Read API (or, "
        "with the API refused, by REST result pages), model_epochs=1, targets in Carol storage. `app CPU` and "
        "`app peak RSS` are the run.py process's (bench/probe.py); the sandbox's CPU (duckdb query, Arrow/JSON "
        "encoding, storage emulator) is counted apart. `local` is the same records ingested from the local "
        "Parquet file in the same session. `streams`: the Storage Read streams the run read (the most at once), "
        "counted by the sandbox, which offers a session as many as `carol_bench.py --streams` says; rows "
        "measured before issue 22 read one stream (the query's `ORDER BY`). Machine: 2 cores, shared with other work while measured (load "
        "average in the last column): absolute seconds vary with it, the ratios are what count.",
        "",
        *_table(["check", "measured", "result"], _acceptance_rows(results)),
        "",
        *_table(["records", "route", "streams", "float64 MiB", "Ingest wall", "Ingest app CPU", "local Ingest wall",
                 "local Ingest CPU", "CPU / local", "app peak RSS", "2x float64 + 400", "sandbox CPU",
                 "run wall", "load"], _ingest_rows(results)),
        "",
        "Streams (issue 22), measured on 2026-12-04 with the machine's 2 cores shared by 7 agents (load 6.5-8.4, "
        "so every second here is inflated against the load-1 rows; the no-op FAILs at 1e6 and 5e6 are that "
        "load: the no-op rerun reads no staging rows, 0 read sessions, and its cost is the sandbox's probe "
        "query under load): at 5e6 records, 4 streams read at once took IngestRecords 48.8 s against 62.0 s "
        "through one stream, with the same app CPU (6.2-6.3 s) and app peak RSS 1.08x the local Parquet run's "
        "(ordering by id locally included). The sandbox's query and Arrow encoding, on the same 2 shared cores, "
        "bound the gain. At 5e7 records (measured 2026-12-05, load 1.8, `--sizes 5e7 --streams 4 --rest-sizes ''`) "
        "4 streams read at once: IngestRecords 157.9 s wall and 54.7 s app CPU (query, streams, ordering by id and "
        "the 6 GB target's upload to the app's storage) against 59.5 s and 66.5 s from local Parquet; the run's "
        "peak RSS 9,279 MiB, 1.14x the local run's 8,129 MiB (IngestRecords alone 8,112 vs 7,762 MiB, 1.05x). "
        "The first attempt at 5e7 never finished: the storage emulator rewrote the whole partial object for "
        "every 100 MiB chunk of the target's upload (sandbox/resumable_uploads.py now appends).",
        "",
        "No-op rerun (fastest of three; the Carol one asks the sandbox what it served): seconds, OAuth token "
        "requests, storage metadata calls, storage downloads (checksum records, registry records and the run log) "
        "and their bytes, Storage Read sessions. Before issue 9, on the sandbox: 22.0 s (local 7.4 s) with 43 token "
        "requests and 79 metadata calls at 1e4 records; then 5 tokens, 54-66 metadata calls and 21-26 downloads. "
        "Now a small object is read in one request (pycarol's `Storage.load` makes three), a run asks for each "
        "checksum record and target size once (`RunScopedStore`), DeployModel's decision is read from its checksum "
        "record instead of its output, and every Google client of the run shares one credentials object per "
        "service account, its token fetched up front. The stand-in has one service account for BigQuery and "
        "storage, hence one token; a tenant whose two accounts differ would ask for two.",
        "",
        *_table(["records", "Carol no-op", "local no-op", "difference", "imports only", "token requests",
                 "metadata calls", "downloads", "download bytes", "read sessions"], _noop_rows(results)),
        "",
    ]
