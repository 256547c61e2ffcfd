"""Turn the benchmark's measurements (bench/results.json) into bench/RESULTS.md."""

from __future__ import annotations

import json

import platform
from pathlib import Path

TASKS = ("IngestRecords", "TrainModel", "EvaluateModel", "DeployModel")
MIB = 1 << 20
REFERENCE_ROWS = 1_000_000


def _row(cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header, rows) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)]


def _main_rows(results: list[dict]) -> list[list]:
    rows = []
    for result in results:
        tasks, baseline = result["tasks"], result["baseline"]
        floor = baseline["read_s"] + baseline["write_s"]
        fresh = baseline.get("read_first_s", float("nan")) + baseline.get("write_first_s", float("nan"))
        ingest = tasks.get("IngestRecords", float("nan"))
        rows.append([
            _label(result), f"{result['float64_bytes'] / MIB:,.0f}",
            f"{result['file_bytes'] / MIB:,.0f}",
            f"{baseline['read_s']:.2f}", f"{baseline['write_s']:.2f}", f"{fresh:.2f}",
            f"{ingest:.2f}", f"{ingest / floor:.2f}x", f"{ingest / fresh:.2f}x",
            *(f"{tasks.get(name, float('nan')):.2f}" for name in TASKS[1:]),
            f"{result['wall_s']:.1f}", f"{result['peak_rss'] / MIB:,.0f}",
            f"{result['peak_rss'] / result['float64_bytes']:.2f}x",
        ])
    return rows


def _task_rows(results: list[dict]) -> list[list]:
    rows = []
    for result in results:
        stats = result.get("task_stats", {})
        peaks = [stats.get(name, {}).get("peak_rss", float("nan")) for name in TASKS]
        rows.append([
            _label(result),
            *(f"{peak / MIB:,.0f} ({peak / result['float64_bytes']:.2f}x)" for peak in peaks),
            *(f"{stats.get(name, {}).get('cpu_s', float('nan')):.2f}" for name in TASKS),
        ])
    return rows


def _seconds(result: dict, name: str, measure: str) -> float:
    if measure == "wall":
        return result["tasks"].get(name, float("nan"))
    return result.get("task_stats", {}).get(name, {}).get("cpu_s", float("nan"))


def _linearity_rows(results: list[dict], measure: str) -> list[list]:
    results = [result for result in results if result["format"] == "parquet" and not result.get("defaults")]
    reference = next((result for result in results if result["rows"] == REFERENCE_ROWS), None)
    if reference is None:
        return []
    rows = []
    for result in results:
        if result["rows"] < REFERENCE_ROWS:
            continue
        scale = result["rows"] / REFERENCE_ROWS
        cells = [f"{result['rows']:.0e}", measure]
        for name in TASKS:
            expected = _seconds(reference, name, measure) * scale
            cells.append(f"{_seconds(result, name, measure) / expected:.2f}")
        rows.append(cells)
    return rows


def _noop_rows(results: list[dict]) -> list[list]:
    return [[
        _label(result), result["rerun_summary"].split(" elapsed")[0].replace("summary: ", ""),
        f"{result['rerun_wall_s']:.2f}", f"{result['imports_wall_s']:.2f}",
        f"{result['rerun_wall_s'] - result['imports_wall_s']:+.2f}",
        f"{result['rerun_read_bytes'] / MIB:.1f}", f"{result['imports_read_bytes'] / MIB:.1f}",
        f"{result['file_bytes'] / MIB:,.0f}",
    ] for result in results]


def _label(result: dict) -> str:
    return f"{result['rows']:.0e} {result['format']}" + (" defaults" if result.get("defaults") else "")


def _ratio(result: dict) -> float:
    """NumPy floor rows/s over TrainModel's rows/s in its fastest epoch (1.0: as fast as the floor); both are
    the fastest of several, the measures least disturbed by other work on the machine."""
    floor = (result.get("training_floor") or result.get("floor") or {}).get("rows_per_second", float("nan"))
    return floor / result["speed"]["fastest_epoch_rows_per_second"]


def _default_training_rows(results: list[dict]) -> list[list]:
    rows = []
    for result in results:
        training = result["training"]
        rows.append([
            _label(result), training["batch_size"], training["epochs_run"], training["best_epoch"],
            f"{training['best_validation_loss']:.4f}", training["stop_reason"],
            f"{result['tasks'].get('TrainModel', float('nan')):.1f}", f"{result['speed']['rows_per_second']:,.0f}",
            f"{result['speed']['fastest_epoch_rows_per_second']:,.0f}",
            f"{result['training_floor']['rows_per_second']:,.0f}", f"{_ratio(result):.2f}x",
            f"{result['test_rmse']:.3f}", f"{result['wall_s']:.1f}", f"{result['load_average'][0]:.1f}",
        ])
    return rows


def _batch_rows(batches: list[dict]) -> list[list]:
    rows = []
    for result in sorted(batches, key=lambda item: (item["rows"], item["training"]["batch_size"])):
        training = result["training"]
        rows.append([
            f"{result['rows']:.0e}", result["batch_setting"], training["batch_size"],
            f"{training['epochs_run']} ({training['stop_reason'].split(' ')[0]})", f"{result['train_seconds']:.1f}",
            f"{result['speed']['rows_per_second']:,.0f}", f"{result['speed']['fastest_epoch_rows_per_second']:,.0f}",
            f"{result['floor']['rows_per_second']:,.0f}",
            f"{_ratio(result):.2f}x", f"{result['test_rmse']:.3f}", f"{result['load_average'][0]:.1f}",
        ])
    return rows


def _check(passed: bool) -> str:
    return "pass" if passed else "**FAIL**"


def _acceptance_rows(results: list[dict]) -> list[list]:
    """The issue's acceptance checks, each against the measured figure (parquet runs)."""
    by_rows = {result["rows"]: result for result in results if result["format"] == "parquet"
               and not result.get("defaults")}
    rows = []
    defaults = next((result for result in results if result.get("defaults") and result["rows"] == 10_000_000), None)
    if defaults is not None:
        training = defaults["training"]
        stopped = "n_iter_no_change" in training["stop_reason"]
        rows.append(["1e7 defaults: TrainModel stops by itself", f"epoch {training['epochs_run']} "
                     f"(best {training['best_epoch']})", _check(stopped)])
        rows.append(["1e7 defaults: whole run under 15 minutes", f"{defaults['wall_s'] / 60:.1f} min",
                     _check(defaults["wall_s"] < 900)])
        rows.append(["1e7 defaults: epoch throughput within 2.5x of the NumPy floor", f"{_ratio(defaults):.2f}x",
                     _check(_ratio(defaults) <= 2.5)])
    if 10_000_000 in by_rows:
        result = by_rows[10_000_000]
        ratio = result["peak_rss"] / result["float64_bytes"]
        rows.append(["1e7: peak RSS <= 2.0x float64 records", f"{ratio:.2f}x", _check(ratio <= 2.0)])
        floor = result["baseline"]["read_s"] + result["baseline"]["write_s"]
        ingest = result["tasks"].get("IngestRecords", float("nan")) / floor
        rows.append(["1e7: IngestRecords <= 2.0x (read + write), warm floor", f"{ingest:.2f}x",
                     _check(ingest <= 2.0)])
        fresh = result["baseline"].get("read_first_s", float("nan")) + result["baseline"].get("write_first_s",
                                                                                              float("nan"))
        ratio = result["tasks"].get("IngestRecords", float("nan")) / fresh
        rows.append(["1e7: IngestRecords <= 2.0x (read + write), fresh process", f"{ratio:.2f}x",
                     _check(ratio <= 2.0)])
        extra = result["rerun_wall_s"] - result["imports_wall_s"]
        read = result["rerun_read_bytes"] - result["imports_read_bytes"]
        rows.append(["1e7: no-op rerun < 0.5 s beyond imports", f"{extra:+.2f} s", _check(extra < 0.5)])
        rows.append(["1e7: no-op rerun reads no data", f"{read / MIB:.2f} MiB beyond imports",
                     _check(read < 0.01 * result["file_bytes"])])
    if 50_000_000 in by_rows:
        peak = by_rows[50_000_000]["peak_rss"]
        rows.append(["5e7: completes, peak RSS < 20 GB", f"{peak / (1 << 30):.1f} GiB", _check(peak < 20e9)])
        for measure in ("wall", "cpu"):
            worst = max(float(cell) for row in _linearity_rows(results, measure) for cell in row[2:]
                        if cell != "nan")
            rows.append([f"1e6 -> 5e7: each stage within 1.3x of linear ({measure})", f"worst {worst:.2f}",
                         _check(worst <= 1.3)])
    return rows


def publish_section(section: Path, lines: list[str]) -> None:
    """A bench's own section (bench/sections/NAME.md), then RESULTS.md rebuilt around every section."""
    section.parent.mkdir(exist_ok=True)
    section.write_text("\n".join(lines) + "\n")
    bench = Path(__file__).resolve().parent
    write_results(json.loads((bench / "results.json").read_text()), bench / "RESULTS.md")


def write_results(results: dict[str, dict], path: Path) -> None:
    """Write the Markdown report of all measured sizes, smallest first."""
    batches = [result for key, result in results.items() if key.startswith("batch:")]
    ordered = sorted((result for key, result in results.items() if not key.startswith("batch:")),
                     key=lambda result: (result["format"], result["rows"], bool(result.get("defaults"))))
    settings = sorted({(result["epochs"], result["max_in_memory_rows"], result["format"]) for result in ordered
                       if not result.get("defaults")})
    notes = path.with_name("RESULTS_NOTES.md")
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_bench.py` (do not edit by hand). Machine: "
        f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, shared with other work while "
        "measured (load average at each measurement in bench/results.json).",
        f"Settings (model_epochs, max_in_memory_rows, format): {settings}; rows marked `defaults` use the "
        "committed settings (early stopping). Times in seconds, sizes in MiB.",
        "",
        "## Acceptance",
        "",
        *_table(["check", "measured", "result"], _acceptance_rows(ordered)),
        "",
        "## End to end, against the physical baseline",
        "",
        "Baseline: pyarrow reads the 15 needed columns of the same file (`read`), then writes those bytes to "
        "disk with fsync (`write`), fastest of three in one process (memory already faulted in: the floor). "
        "`fresh read+write` is the first of the three, in a fresh process, as IngestRecords runs. "
        "`float64` is the records' in-memory size as 15 float64 columns.",
        "",
        *_table(["records", "float64", "file", "read", "write", "fresh read+write", "Ingest",
                 "Ingest / (read+write)", "Ingest / fresh", "Train",
                 "Evaluate", "Deploy", "run wall", "peak RSS", "RSS / float64"], _main_rows(ordered)),
        "",
        "## Training at the committed settings",
        "",
        "The run above marked `defaults`: early stopping decides the epochs. `rows/s per epoch` is TrainModel's "
        "training rows per second of epoch time (validation not counted), over all epochs and in its fastest "
        "epoch; `floor` is a bare NumPy forward and backward pass of the same network at the same batch size on "
        "one BLAS thread (bench/baseline.py), fastest of three epochs, measured in the same process right after "
        "the run. `floor / TrainModel` (floor over the fastest epoch: both the least disturbed by other work on "
        "the shared machine) is the acceptance ratio.",
        "",
        *_table(["records", "batch", "epochs run", "best epoch", "best validation loss", "stop reason",
                 "TrainModel s", "rows/s per epoch", "fastest epoch rows/s", "floor rows/s", "floor / TrainModel", "test RMSE", "run wall",
                 "load"], _default_training_rows([result for result in ordered if result.get("defaults")])),
        "",
        "## Batch size",
        "",
        "bench/batch_size.py: the app's `train_model` at each batch size (committed network and split; epochs "
        "as listed: `validation` = stopped early by the committed rule, `reached` = capped by model_epochs), "
        "then the NumPy floor at the same batch size, in one process. The `auto` rule (app/functions/"
        "training.py) is chosen from these rows.",
        "",
        *_table(["records", "setting", "batch", "epochs", "train s", "rows/s per epoch", "fastest epoch rows/s",
                 "floor rows/s",
                 "floor / TrainModel", "test RMSE", "load"], _batch_rows(batches)),
        "",
        "## Per task: peak RSS while it ran (and / float64), CPU seconds",
        "",
        "Measured inside the run by bench/probe.py: the kernel's RSS high-water mark is reset when a task "
        "starts; CPU is user + system time of the process (all its threads) during the task.",
        "",
        *_table(["records", *(f"{name} RSS" for name in TASKS), *(f"{name} CPU" for name in TASKS)],
                _task_rows(ordered)),
        "",
        "## Growth against linear (time at N / (time at 1e6 x N/1e6); 1.00 is linear)",
        "",
        "Wall time suffers from whatever else runs on the machine; CPU time much less.",
        "",
        *_table(["records", "time", *TASKS],
                _linearity_rows(ordered, "wall") + _linearity_rows(ordered, "cpu")),
        "",
        "## No-op rerun",
        "",
        "The same command run again: it must reuse every task. `imports` is a process that only imports what "
        "run.py imports; `read` counts every byte the process read (rchar: .py/.pyc files, config, targets' "
        "checksum records).",
        "",
        *_table(["records", "rerun summary", "rerun wall", "imports wall", "rerun - imports", "rerun read",
                 "imports read", "data file"], _noop_rows(ordered)),
        "",
    ]
    # Other benchmarks (bench/online.py) keep their own section here, so a rebuild keeps them.
    for section in sorted(path.with_name("sections").glob("*.md")):
        lines += [section.read_text().strip(), ""]
    if notes.exists():
        lines += ["## Notes", "", notes.read_text().strip(), ""]
    path.write_text("\n".join(lines))
