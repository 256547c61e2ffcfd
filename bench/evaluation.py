"""EvaluateModel's work at scale (metrics of model and baseline, threshold check, plots), today's code against a
reference commit, side by side in one run: `python bench/evaluation.py [--records 10000000] [--reference REV]`.

The reference is checked out with `git worktree` in a temporary folder; each measurement runs in a fresh process
(interleaved rounds: reference, today's regression, today's classification), on synthetic predictions of
`--records` records split 80/20 as TrainModel hands them on. Writes bench/sections/evaluation.md and rebuilds
bench/RESULTS.md around it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SECTION = PROJECT_DIR / "bench" / "sections" / "evaluation.md"
REFERENCE = "2c340d8"  # the last release before metrics by kind (issue 28)

MEASURE = r'''
import json, resource, sys, time
import numpy as np
# Imports before the clock, in both versions (today's code loads these lazily, the reference at import).
import matplotlib.backends.backend_agg, matplotlib.figure, sklearn.calibration, sklearn.metrics
from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.report import build_plots
from carolbatch.training.fitting import Split, TrainedModel

records, kind = int(sys.argv[1]), sys.argv[2]
generator = np.random.default_rng(0)
train, test = int(records * 0.8), records - int(records * 0.8)
split = Split(np.arange(train), np.arange(0), np.arange(train, records))
facts = {"train_rows": train, "validation_rows": 0}
if kind == "regression":
    y = generator.normal(size=records)
    predicted = y + generator.normal(scale=0.5, size=records)
    trained = TrainedModel(None, ("a",), split, y[:train], predicted[:train], y[train:], predicted[train:], facts)
else:
    from carolbatch.problem import Problem
    y = generator.integers(0, 2, size=records)
    positive = np.clip(0.5 + (y - 0.5) * 0.6 + generator.normal(scale=0.2, size=records), 0.001, 0.999)
    probabilities = np.column_stack([1 - positive, positive])
    labels = (positive > 0.5).astype("int64")
    trained = TrainedModel(None, ("a",), split, y[:train], labels[:train], y[train:], labels[train:], facts,
                           problem=Problem("binary", (0, 1)), train_probabilities=probabilities[:train],
                           test_probabilities=probabilities[train:])
started = time.perf_counter()
result = evaluate_model(trained, Thresholds())
scored = time.perf_counter() - started
build_plots(trained)
print(json.dumps({"scored": scored, "total": time.perf_counter() - started,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def measure(code_dir: Path, records: int, kind: str) -> dict:
    output = subprocess.run([sys.executable, "-c", MEASURE, str(records), kind], cwd=code_dir, check=True,
                            capture_output=True, text=True, env={"PYTHONPATH": str(code_dir), "PATH": "/usr/bin:/bin"})
    return json.loads(output.stdout.strip().splitlines()[-1])


def run(records: int, rounds: int, reference: str) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {"reference regression": [], "regression": [], "binary classification": []}
    with tempfile.TemporaryDirectory() as folder:
        checkout = Path(folder) / "reference"
        subprocess.run(["git", "worktree", "add", "--detach", str(checkout), reference], cwd=PROJECT_DIR, check=True,
                       capture_output=True)
        try:
            for _ in range(rounds):
                results["reference regression"].append(measure(checkout, records, "regression"))
                results["regression"].append(measure(PROJECT_DIR, records, "regression"))
                results["binary classification"].append(measure(PROJECT_DIR, records, "classification"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=PROJECT_DIR, check=True)
    return results


def write_section(results: dict[str, list[dict]], records: int, reference: str) -> None:
    base = statistics.median(result["total"] for result in results["reference regression"])
    lines = ["## EvaluateModel at scale, side by side (bench/evaluation.py)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {records:.0e} records (80% train, 20% "
             f"test), {len(results['regression'])} interleaved rounds, each in a fresh process; reference "
             f"{reference} (regression metrics only). Median seconds; `scored`: metrics and thresholds, `total`: "
             "with the plots.", "",
             "| code | kind | scored s | total s | total / reference | peak RSS MiB |", "| --- | --- | --- | --- | --- | --- |"]
    for name, rows in results.items():
        total = statistics.median(row["total"] for row in rows)
        lines.append(f"| {'reference' if name.startswith('reference') else 'today'} | "
                     f"{name.replace('reference ', '')} | {statistics.median(row['scored'] for row in rows):.2f} | "
                     f"{total:.2f} | {total / base:.2f}x | {max(row['peak_mib'] for row in rows):,.0f} |")
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from report import publish_section  # bench/report.py, beside this file

    publish_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference", default=REFERENCE)
    args = parser.parse_args()
    results = run(args.records, args.rounds, args.reference)
    write_section(results, args.records, args.reference)
    print(SECTION.read_text())


if __name__ == "__main__":
    main()
