"""Plots, the self-contained HTML report and the text tables."""

from __future__ import annotations

import base64
import dataclasses
import io
import re

import pytest
from PIL import Image

from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.report import (
    PREDICTED_PLOT,
    REPORT_FILE,
    RESIDUALS_PLOT,
    LEARNING_CURVE_PLOT,
    build_plots,
    format_metrics_table,
    format_versions_table,
    metric_rows,
    plot_residuals,
    render_report,
    sample_points,
)
from tests.conftest import train_tiny

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def trained(tiny_frame):
    return train_tiny(tiny_frame, 200)


METRICS = {"mse": 1.0, "mae": 0.5, "rmse": 1.0, "r2": 0.9}
DEPLOYED = {"version": "v2", "reason": "test RMSE 1.000 vs 2.000 of deployed model v1 on 40 common test records: "
            "not worse by more than champion_tolerance=0.1", "champion": "v1", "tolerance": 0.1,
            "decided_at": "2026-12-04T20:00:00+00:00",
            "comparison": {"champion_version": "v1", "records": 40, "challenger": METRICS, "problem": "",
                           "champion": {**METRICS, "rmse": 2.0}, "baseline": {**METRICS, "rmse": 7.25}}}
REFUSED = {"version": None, "reason": "not comparable with deployed model v1: the records have no usable column a",
           "champion": "v1", "tolerance": 0.0, "decided_at": "2026-12-04T21:00:00+00:00",
           "comparison": {"champion_version": "v1", "records": 0, "problem": "the records have no usable column a"}}


def render_files(trained, result, settings, snapshot, decision=DEPLOYED) -> dict[str, bytes]:
    result = dataclasses.replace(result, files=build_plots(trained))
    return {**result.files, REPORT_FILE: render_report(result, result.files, settings, snapshot, decision).encode()}


@pytest.fixture
def files(trained):
    result = evaluate_model(trained, Thresholds({"min_test_r2": 0.5}))
    settings = {"model_epochs": 200, "data_path": "<data>.csv", "model_hidden_layers": [128, 64],
                "max_test_rmse": None}
    snapshot = {"source": "tiny frame", "data_fingerprint": "file:abc123"}
    return result, render_files(trained, result, settings, snapshot)


def test_plots_are_valid_png_images_of_the_figure_size(files):
    _, report_files = files
    for name in (RESIDUALS_PLOT, PREDICTED_PLOT):
        data = report_files[name]
        assert data.startswith(PNG_SIGNATURE)
        image = Image.open(io.BytesIO(data))
        image.verify()
        assert image.format == "PNG" and image.size == (640, 480)


def test_the_two_plots_differ(files):
    _, report_files = files
    assert report_files[RESIDUALS_PLOT] != report_files[PREDICTED_PLOT]


def test_report_embeds_both_plots_and_lists_metrics_settings_and_data(files):
    result, report_files = files
    page = report_files[REPORT_FILE].decode()
    embedded = [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    assert embedded == [report_files[name] for name in (LEARNING_CURVE_PLOT, RESIDUALS_PLOT, PREDICTED_PLOT)]
    for label, metrics in metric_rows(result):
        assert f"<th>{label}</th><td>{metrics.mse:.4f}</td>" in page
        assert f"{metrics.rmse:.4f}" in page and f"{metrics.r2:.4f}" in page
    assert "file:abc123" in page and "tiny frame" in page and "model_epochs" in page
    assert "Thresholds passed" in page
    assert "&lt;data&gt;.csv" in page and "<data>" not in page
    assert "<td style=\"text-align:left\">128, 64</td>" in page and "(empty)" in page and '"' not in page.split(
        "<h2>Settings</h2>")[1].replace('style="text-align:left"', "")


def test_report_opens_with_the_version_the_decision_and_the_champion_comparison(files):
    page = files[1][REPORT_FILE].decode()
    body = page.split("<body>")[1]
    assert body.startswith("<h1>Model version v2</h1>")
    assert body.index("Decided 2026-12-04T20:00:00+00:00: deployed: test RMSE 1.000 vs 2.000") < body.index(
        "Champion vs challenger") < body.index("Learning curve") < body.index("<h2>Metrics</h2>")
    comparison = body.split("Champion vs challenger")[1].split("Learning curve")[0]
    for label, rmse in (("challenger", "1.0000"), ("champion v1", "2.0000"), ("baseline (train mean)", "7.2500")):
        assert f"<th>{label}</th>" in comparison and rmse in comparison
    assert "On 40 test records held out by both models; champion_tolerance=0.1." in comparison


def test_a_refused_challenger_report_says_not_deployed_and_why(trained):
    page = render_files(trained, evaluate_model(trained, Thresholds()), {}, {}, REFUSED)[REPORT_FILE].decode()
    assert "<h1>Model not deployed</h1>" in page and "not deployed: not comparable with deployed model v1" in page
    assert "Not comparable with deployed model v1: the records have no usable column a" in page


def test_report_shows_how_training_went(files):
    result, report_files = files
    page = report_files[REPORT_FILE].decode()
    training = page.split("<h2>Training</h2>")[1].split("<h2>")[0]
    for name in ("epochs_run", "best_epoch", "best_validation_loss", "stop_reason", "batch_size"):
        assert f"<th>{name}</th>" in training
    assert f"{result.training['best_validation_loss']}" in training and "reached model_epochs=200" in training


def test_report_says_when_thresholds_failed(trained):
    result = evaluate_model(trained, Thresholds({"max_test_rmse": 1e-6}))
    page = render_files(trained, result, {}, {})[REPORT_FILE].decode()
    assert "Thresholds failed" in page and "max_test_rmse=1e-06" in page


def test_plot_of_constant_predictions_still_renders(trained):
    flat = type(trained)(**{**vars(trained), "y_test_predicted": trained.y_test * 0 + 1.0})
    assert Image.open(io.BytesIO(plot_residuals(flat))).size == (640, 480)


def test_metrics_table_has_one_aligned_line_per_part(files):
    result, _ = files
    lines = format_metrics_table(metric_rows(result)).splitlines()
    assert [line.split()[0] for line in lines] == ["part", "train", "test", "baseline", "baseline"]
    assert len({len(line) for line in lines}) == 1
    assert f"{result.test.rmse:.3f}" in lines[2]


def test_versions_table_marks_the_current_version():
    versions = [{"version": "v1", "metrics": {"test": {"rmse": 3.96, "r2": 0.84}}, "created_at": "t1"},
                {"version": "v2", "metrics": {"test": {"rmse": 3.5, "r2": 0.88}}, "created_at": "t2"}]
    lines = format_versions_table(versions, "v1").splitlines()
    assert lines[1].startswith("* v1") and "3.960" in lines[1]
    assert lines[2].startswith("  v2") and "3.500" in lines[2]
    assert not any(line.startswith("*") for line in format_versions_table(versions, None).splitlines())


def test_large_parts_are_sampled_to_the_limit_keeping_pairs_together():
    import numpy as np

    y_true = np.arange(100_000, dtype=float)
    sampled_true, sampled_predicted = sample_points(y_true, y_true * 2, limit=500)
    assert len(sampled_true) == 500 and np.array_equal(sampled_predicted, sampled_true * 2)
    assert np.array_equal(sample_points(y_true, y_true * 2, limit=500)[0], sampled_true)
    small = np.arange(10.0)
    assert sample_points(small, small, limit=500)[0] is small
