"""What people read about a model: PNG plots, a self-contained HTML report that opens with the deploy decision,
the metadata kept beside a registry version, and small text tables for the log."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from carolbatch.evaluation import Evaluation
from carolbatch.metrics import METRICS, Metrics
from carolbatch.records.sources import Records
from carolbatch.training.fitting import TrainedModel

LEARNING_CURVE_PLOT = "learning_curve.png"
RESIDUALS_PLOT = "residuals.png"
PREDICTED_PLOT = "predicted_vs_true.png"
REPORT_FILE = "report.html"
# More points than this per part only blacken the plot and cost minutes at millions of records.
MAX_PLOTTED_POINTS = 5000


def new_figure():
    """A bare matplotlib Figure (imported here: a run that draws nothing does not load matplotlib)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.8), dpi=100)


def render_png(figure) -> bytes:
    """The figure as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # Agg canvas on a bare Figure: no pyplot state, no display needed, safe in worker processes.
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def plot_residuals(trained: TrainedModel) -> bytes:
    """PNG of residual (true - predicted) against the true value, train and test points apart."""
    figure = new_figure()
    axes = figure.add_subplot()
    for part, y_true, y_predicted in _parts(trained):
        axes.scatter(y_true, y_true - y_predicted, s=12, alpha=0.6, label=part)
    axes.axhline(0.0, color="black", linewidth=1)
    axes.set(xlabel="true value", ylabel="residual (true - predicted)", title="Residuals")
    axes.legend()
    return render_png(figure)


def plot_predicted_vs_true(trained: TrainedModel) -> bytes:
    """PNG of predicted against true values with the line of perfect predictions."""
    figure = new_figure()
    axes = figure.add_subplot()
    for part, y_true, y_predicted in _parts(trained):
        axes.scatter(y_true, y_predicted, s=12, alpha=0.6, label=part)
    values = np.concatenate([trained.y_train, trained.y_test])
    axes.plot([values.min(), values.max()], [values.min(), values.max()], color="black", linewidth=1)
    axes.set(xlabel="true value", ylabel="predicted value", title="Predicted vs true")
    axes.legend()
    return render_png(figure)


def plot_learning_curve(validation_losses: Sequence[float], loss: str = "MSE") -> bytes:
    """PNG of the validation loss (`loss`: its name) after each epoch."""
    figure = new_figure()
    axes = figure.add_subplot()
    marker = "." if len(validation_losses) < 50 else None
    axes.plot(range(1, len(validation_losses) + 1), validation_losses, marker=marker)
    axes.set(xlabel="epoch", ylabel=f"validation loss ({loss})", title="Learning curve")
    if min(validation_losses) > 0:
        axes.set_yscale("log")
    return render_png(figure)


def build_plots(trained: TrainedModel) -> dict[str, bytes]:
    """The report's plots by file name: the learning curve where the model has epochs, then residuals and
    predicted vs true for a regressor, or a classifier's curves and confusion matrix (carolbatch/class_plots.py)."""
    loss = "log loss" if trained.problem.is_classification else "MSE"
    curve = ({LEARNING_CURVE_PLOT: plot_learning_curve(trained.validation_losses, loss)}
             if trained.validation_losses else {})
    if trained.problem.is_classification:
        from carolbatch.class_plots import classification_plots

        return {**curve, **classification_plots(trained)}
    return {**curve, RESIDUALS_PLOT: plot_residuals(trained), PREDICTED_PLOT: plot_predicted_vs_true(trained)}


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
    """Metrics as a small aligned text table for the log, one column per metric of the first row."""
    names = list(rows[0][1]) if rows else []
    lines = [f"{'part':<16}" + "".join(f"{_short_label(name):>10}" for name in names)]
    for label, metrics in rows:
        lines.append(f"{label:<16}" + "".join(f"{metrics.get(name, float('nan')):>10.3f}" for name in names))
    return "\n".join(lines)


def _short_label(name: str) -> str:
    """A metric's column heading: its label, or its name where the label is long (log loss, balanced accuracy)."""
    label = METRICS[name].label if name in METRICS else name
    return (label if len(label) <= 9 else name[:9]).replace("²", "2")


def render_decision_report(trained: TrainedModel, evaluation: Evaluation, records: Records, data_fingerprint: str,
                           settings: Mapping[str, Any], decision: Any) -> bytes:
    """report.html of a deploy decision (a `Deployment`) about `trained`, made from `records` with `settings`."""
    split = trained.split
    snapshot = {"source": records.source, "data_fingerprint": data_fingerprint, "records": len(records.frame),
                "train_rows": len(split.train_rows),
                "validation_rows": len(split.validation_rows), "test_rows": len(split.test_rows), **records.facts}
    return render_report(evaluation, evaluation.files, settings, snapshot, decision.as_summary()).encode()


def render_report(evaluation: Evaluation, plots: Mapping[str, bytes], settings: Mapping[str, Any],
                  snapshot: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    """A self-contained HTML page: the decision first (version or "not deployed", time, reason, the champion
    comparison on the common test records), then the learning curve, metrics, gate check, training facts,
    the other plots (embedded as base64), data and settings.

    Args:
        evaluation: the metrics and the threshold check.
        plots: PNG bytes by file name, shown in that order.
        settings: the user's settings the model was made with.
        snapshot: what data the model saw (source, fingerprint, row counts).
        decision: the deploy decision (`Deployment.as_summary()`).
    """
    curve = {name: data for name, data in plots.items() if name == LEARNING_CURVE_PLOT}
    others = {name: data for name, data in plots.items() if name != LEARNING_CURVE_PLOT}
    verdict = "passed" if evaluation.approved else "failed"
    title = f"Model version {decision['version']}" if decision.get("version") else "Model not deployed"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}</style></head><body>"
        f"{_decision_section(title, decision)}"
        + (f"<h2>Learning curve</h2>{_figures(curve)}" if curve else "")
        + f"<h2>Metrics</h2>{_metrics_table(metric_rows(evaluation))}"
        f"<p>Thresholds {verdict}: {html.escape(evaluation.reason)}</p>"
        f"<h2>Training</h2>{_key_value_table(evaluation.training)}"
        f"<h2>Plots</h2>{_figures(others)}"
        f"<h2>Data</h2>{_key_value_table(snapshot)}"
        f"<h2>Settings</h2>{_key_value_table(settings)}"
        "</body></html>\n"
    )


def _decision_section(title: str, decision: Mapping[str, Any]) -> str:
    """The version (or not deployed), when, why, and the champion against the challenger."""
    comparison = decision.get("comparison") or {}
    tolerance = decision.get("tolerance")
    lines = [f"<h1>{html.escape(title)}</h1>",
             f"<p id=\"decision\">Decided {html.escape(str(decision.get('decided_at') or '?'))}: "
             f"{'deployed' if decision.get('version') else 'not deployed'}: {html.escape(decision['reason'])}</p>",
             "<h2>Champion vs challenger</h2>"]
    if not decision.get("champion"):
        lines.append("<p>No model was deployed before: nothing to compare with.</p>")
    elif comparison.get("problem"):
        lines.append(f"<p>Not comparable with deployed model {html.escape(decision['champion'])}: "
                     f"{html.escape(comparison['problem'])}</p>")
    elif comparison.get("challenger"):
        rows = [("challenger", comparison["challenger"]), (f"champion {decision['champion']}", comparison["champion"]),
                (f"baseline ({_baseline_kind(comparison.get('metric'))})", comparison["baseline"])]
        lines.append(_metrics_table([(label, Metrics(values)) for label, values in rows]))
        lines.append(f"<p>On {comparison['records']} test records held out by both models; "
                     f"champion_tolerance={_plain(tolerance)}.</p>{_interval_line(comparison)}")
    else:
        lines.append(f"<p>Deployed model {html.escape(decision['champion'])} was not scored (see above).</p>")
    return "".join(lines)


def _metrics_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    names = list(rows[0][1]) if rows else []
    header = "".join(f"<th>{html.escape(METRICS[name].label if name in METRICS else name)}</th>" for name in names)
    lines = "".join(
        f"<tr><th>{html.escape(label)}</th>"
        + "".join(f"<td>{metrics.get(name, float('nan')):.4f}</td>" for name in names) + "</tr>"
        for label, metrics in rows
    )
    return f"<table><tr><th>part</th>{header}</tr>{lines}</table>"


def _baseline_kind(metric: str | None) -> str:
    """What the baseline predicts, for the metric's kind of problem."""
    return "class prior" if metric in METRICS and "regression" not in METRICS[metric].kinds else "train mean"


def _interval_line(comparison: Mapping[str, Any]) -> str:
    """The decision metric's difference and its paired bootstrap interval, in words."""
    interval, name = comparison.get("interval"), comparison.get("metric")
    if not interval or name not in METRICS:
        return ""
    return (f"<p id=\"interval\">{html.escape(METRICS[name].label)} of challenger minus champion: "
            f"{interval['difference']:+.4f}, {interval['confidence']:.0%} paired bootstrap interval "
            f"{interval['low']:+.4f} to {interval['high']:+.4f} ({interval['resamples']} resamples of the common "
            f"records; {'lower' if not METRICS[name].higher_is_better else 'higher'} is better).</p>")


def _figures(plots: Mapping[str, bytes]) -> str:
    return "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, data in plots.items()
    )


def _plain(value: Any) -> str:
    """A setting's value as a person writes it: `128, 64`, `0.2`, `true`, `(empty)`."""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    return str(value)


def _key_value_table(values: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td style=\"text-align:left\">{html.escape(_plain(value))}</td></tr>"
        for key, value in values.items()
    )
    return f"<table>{rows}</table>"


def format_versions_table(versions: Sequence[Mapping[str, Any]], current: str | None) -> str:
    """The registry's versions, oldest first, with the test value of the metric each was decided on; `*` marks the
    current one."""
    lines = [f"  {'version':<28}{'metric':>18}{'test':>10}  created"]
    for entry in versions:
        test = entry.get("metrics", {}).get("test", {})
        name = entry.get("decision_metric") or "rmse"
        marker = "*" if entry["version"] == current else " "
        label = METRICS[name].label if name in METRICS else name
        lines.append(f"{marker} {entry['version']:<28}{label:>18}{test.get(name, float('nan')):>10.3f}"
                     f"  {entry.get('created_at', '?')}")
    return "\n".join(lines)


def build_metadata(
    version: str, settings: Mapping[str, Any], trained: TrainedModel, evaluation: Evaluation,
    source: Mapping[str, Any], decision: Mapping[str, Any],
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
        "decision": dict(decision),
    }
