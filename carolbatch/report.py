"""What people read about a model: PNG plots, a self-contained HTML report, the metadata kept beside a
registry version, and small text tables for the log."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from carolbatch.evaluation import Champion, Evaluation, Metrics
from carolbatch.training.fitting import TrainedModel

if TYPE_CHECKING:  # deployment.py imports this module
    from carolbatch.deployment import Deployment

RESIDUALS_PLOT = "residuals.png"
PREDICTED_PLOT = "predicted_vs_true.png"
REPORT_FILE = "report.html"
METRIC_NAMES = ("mse", "mae", "rmse", "r2")
# More points than this per part only blacken the plot and cost minutes at millions of records.
MAX_PLOTTED_POINTS = 5000


def _render_png(figure: Figure) -> bytes:
    # Agg canvas on a bare Figure: no pyplot state, no display needed, safe in worker processes.
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def plot_residuals(trained: TrainedModel) -> bytes:
    """PNG of residual (true - predicted) against the true value, train and test points apart."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    axes = figure.add_subplot()
    for part, y_true, y_predicted in _parts(trained):
        axes.scatter(y_true, y_true - y_predicted, s=12, alpha=0.6, label=part)
    axes.axhline(0.0, color="black", linewidth=1)
    axes.set(xlabel="true value", ylabel="residual (true - predicted)", title="Residuals")
    axes.legend()
    return _render_png(figure)


def plot_predicted_vs_true(trained: TrainedModel) -> bytes:
    """PNG of predicted against true values with the line of perfect predictions."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    axes = figure.add_subplot()
    for part, y_true, y_predicted in _parts(trained):
        axes.scatter(y_true, y_predicted, s=12, alpha=0.6, label=part)
    values = np.concatenate([trained.y_train, trained.y_test])
    axes.plot([values.min(), values.max()], [values.min(), values.max()], color="black", linewidth=1)
    axes.set(xlabel="true value", ylabel="predicted value", title="Predicted vs true")
    axes.legend()
    return _render_png(figure)


def build_report_files(
    trained: TrainedModel, evaluation: Evaluation, settings: Mapping[str, Any], snapshot: Mapping[str, Any]
) -> dict[str, bytes]:
    """The two plots and the HTML report that embeds them, by file name."""
    plots = {RESIDUALS_PLOT: plot_residuals(trained), PREDICTED_PLOT: plot_predicted_vs_true(trained)}
    return {**plots, REPORT_FILE: render_report(evaluation, plots, settings, snapshot).encode()}


def _parts(trained: TrainedModel):
    parts = (("train", trained.y_train, trained.y_train_predicted), ("test", trained.y_test, trained.y_test_predicted))
    return tuple((part, *sample_points(y_true, y_predicted)) for part, y_true, y_predicted in parts)


def sample_points(
    y_true: np.ndarray, y_predicted: np.ndarray, limit: int = MAX_PLOTTED_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` (true, predicted) pairs, the same ones on every call."""
    if len(y_true) <= limit:
        return y_true, y_predicted
    rows = np.random.default_rng(0).choice(len(y_true), limit, replace=False)
    return y_true[rows], y_predicted[rows]


def metric_rows(evaluation: Evaluation) -> list[tuple[str, Metrics]]:
    """The model's and the mean predictor's metrics, one labelled row per part."""
    return [
        ("train", evaluation.train),
        ("test", evaluation.test),
        ("baseline train", evaluation.baseline_train),
        ("baseline test", evaluation.baseline_test),
    ]


def format_metrics_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """Metrics as a small aligned text table for the log."""
    lines = [f"{'part':<16}{'MSE':>10}{'MAE':>10}{'RMSE':>10}{'R2':>10}"]
    for label, metrics in rows:
        lines.append(f"{label:<16}" + "".join(f"{getattr(metrics, name):>10.3f}" for name in METRIC_NAMES))
    return "\n".join(lines)


def render_report(
    evaluation: Evaluation, plots: Mapping[str, bytes], settings: Mapping[str, Any], snapshot: Mapping[str, Any]
) -> str:
    """A self-contained HTML page: metrics table, gate check, training facts, plots embedded as base64, data
    and settings.

    Args:
        evaluation: the metrics and the threshold check.
        plots: PNG bytes by file name, shown in that order.
        settings: the settings the model was made with.
        snapshot: what data the model saw (source, fingerprint, row counts).
    """
    header = "".join(f"<th>{name.upper()}</th>" for name in METRIC_NAMES)
    metric_lines = "".join(
        f"<tr><th>{html.escape(label)}</th>"
        + "".join(f"<td>{getattr(metrics, name):.4f}</td>" for name in METRIC_NAMES) + "</tr>"
        for label, metrics in metric_rows(evaluation)
    )
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, data in plots.items()
    )
    verdict = "passed" if evaluation.approved else "failed"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Model evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}</style></head><body>"
        "<h1>Model evaluation</h1>"
        f"<h2>Metrics</h2><table><tr><th>part</th>{header}</tr>{metric_lines}</table>"
        f"<p>Thresholds {verdict}: {html.escape(evaluation.reason)}</p>"
        f"<h2>Training</h2>{_key_value_table(evaluation.training)}"
        f"<h2>Plots</h2>{images}"
        f"<h2>Data</h2>{_key_value_table(snapshot)}"
        f"<h2>Settings</h2>{_key_value_table(settings)}"
        "</body></html>\n"
    )


def _key_value_table(values: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td style=\"text-align:left\">"
        f"{html.escape(json.dumps(value, default=str))}</td></tr>"
        for key, value in values.items()
    )
    return f"<table>{rows}</table>"


def format_versions_table(versions: Sequence[Mapping[str, Any]], current: str | None) -> str:
    """The registry's versions, oldest first, with their test metrics; `*` marks the current one."""
    lines = [f"  {'version':<28}{'test RMSE':>10}{'test R2':>10}  created"]
    for entry in versions:
        test = entry.get("metrics", {}).get("test", {})
        marker = "*" if entry["version"] == current else " "
        lines.append(f"{marker} {entry['version']:<28}{test.get('rmse', float('nan')):>10.3f}"
                     f"{test.get('r2', float('nan')):>10.3f}  {entry.get('created_at', '?')}")
    return "\n".join(lines)


def build_metadata(
    version: str, settings: Mapping[str, Any], trained: TrainedModel, evaluation: Evaluation,
    source: Mapping[str, Any], decision: Deployment, champion: Champion | None,
) -> dict:
    """The facts kept beside a model version."""
    return {
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "settings": dict(settings),
        "metrics": evaluation.metrics(),
        "rows": {"train": len(trained.split.train_rows), "validation": len(trained.split.validation_rows),
                 "test": len(trained.split.test_rows)},
        "epochs_run": trained.epochs_run,
        "training": dict(trained.training),
        "feature_columns": list(trained.feature_columns),
        "source": dict(source),
        "decision": {"reason": decision.reason, "champion": decision.champion,
                     "champion_test": None if champion is None or champion.test is None else asdict(champion.test)},
    }
