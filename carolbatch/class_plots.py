"""A classifier's plots for its report, drawn from its test part: ROC and precision-recall curves, the calibration
curve and the confusion matrix (one curve per class, one class against the rest, for more than two classes)."""

from __future__ import annotations

import numpy as np

from carolbatch.metrics import Case
from carolbatch.report import new_figure, render_png
from carolbatch.training.fitting import TrainedModel

ROC_PLOT = "roc_curve.png"
PRECISION_RECALL_PLOT = "precision_recall.png"
CALIBRATION_PLOT = "calibration.png"
CONFUSION_PLOT = "confusion_matrix.png"
# More classes than this get no curve each: the plot would be unreadable.
MAX_CURVES = 10
# The curves are drawn from at most this many test records, the same ones every time: a curve of more looks the
# same and costs seconds at millions of records (the metrics are computed on all of them).
MAX_CURVE_RECORDS = 200_000


def classification_plots(trained: TrainedModel) -> dict[str, bytes]:
    """The plots by file name."""
    return {ROC_PLOT: plot_roc(trained), PRECISION_RECALL_PLOT: plot_precision_recall(trained),
            CALIBRATION_PLOT: plot_calibration(trained), CONFUSION_PLOT: plot_confusion(trained)}


def _curves(trained: TrainedModel):
    """(class, is it, its probability) on the test part (at most MAX_CURVE_RECORDS of it): the positive class of a
    binary problem, else each class."""
    classes, rows = trained.problem.classes, _drawn_rows(len(trained.y_test))
    shown = classes[1:] if len(classes) == 2 else classes[:MAX_CURVES]
    for label in shown:
        column = classes.index(label)
        yield label, np.asarray(trained.y_test)[rows] == label, trained.test_probabilities[rows, column]


def _drawn_rows(count: int) -> np.ndarray:
    if count <= MAX_CURVE_RECORDS:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, MAX_CURVE_RECORDS, replace=False))


def _curve_plot(trained: TrainedModel, curve, diagonal: bool, **axes_settings) -> bytes:
    """One curve per shown class (`curve(is it, probability)` gives its x and y), on labelled axes."""
    figure = new_figure()
    axes = figure.add_subplot()
    for label, positive, score in _curves(trained):
        if positive.any() and not positive.all():
            axes.plot(*curve(positive, score), label=f"class {label}")
    if diagonal:
        axes.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--")
    axes.set(**axes_settings)
    axes.legend()
    return render_png(figure)


def plot_roc(trained: TrainedModel) -> bytes:
    from sklearn.metrics import roc_curve  # scikit-learn's curves load when a classifier's report is drawn

    return _curve_plot(trained, lambda positive, score: roc_curve(positive, score)[:2], True,
                       xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (test)")


def plot_precision_recall(trained: TrainedModel) -> bytes:
    from sklearn.metrics import precision_recall_curve

    return _curve_plot(trained, lambda positive, score: precision_recall_curve(positive, score)[1::-1], False,
                       xlabel="recall", ylabel="precision", title="Precision-recall (test)", ylim=(0, 1.05))


def plot_calibration(trained: TrainedModel) -> bytes:
    """Observed frequency against predicted probability, in ten bins: a calibrated model lies on the diagonal."""
    from sklearn.calibration import calibration_curve

    return _curve_plot(trained, lambda positive, score: calibration_curve(positive, score, n_bins=10,
                                                                          strategy="quantile")[::-1], True,
                       xlabel="predicted probability", ylabel="observed frequency", title="Calibration (test)")


def plot_confusion(trained: TrainedModel) -> bytes:
    """Test records by true class (rows) and predicted class (columns), counts written in each cell."""
    classes = list(trained.problem.classes)
    counts = Case(trained.y_test, trained.test_output, trained.problem).confusion
    figure = new_figure()
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues")
    ticks = range(len(classes))
    axes.set(xticks=ticks, yticks=ticks, xticklabels=[str(label) for label in classes],
             yticklabels=[str(label) for label in classes], xlabel="predicted class", ylabel="true class",
             title="Confusion matrix (test)")
    if len(classes) <= 20:
        for row, column in np.ndindex(counts.shape):
            axes.text(column, row, str(counts[row, column]), ha="center", va="center")
    return render_png(figure)
