"""Figures of a run (learning curves, an example window, confusion matrix, ROC curve, decision
over time, reliability) and of a tuning study (matplotlib, no display needed).

Every figure is drawn from data that is also saved in the run folder (``history.csv``,
``metrics.json``), so a report can redraw it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from deepmouse.atomic import atomic_path  # noqa: E402
from deepmouse.recordings import CLASS_NAMES  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` atomically and close it.

    Raises:
        WriteError: the file cannot be written (one line naming it).
    """
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _finish_axes(fig, ax, path: str | Path, title: str, legend: str = "lower right",
                 legend_size: int = 8) -> Path:
    """Grid, legend (where ``legend`` says), the title if any; then save (see
    :func:`save_figure`)."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, loc=legend)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_curves(history: list[dict], path: str | Path, best_epoch: int | None = None) -> Path:
    """Train/dev accuracy and loss per epoch, side by side."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for split, style in (("train", "-"), ("dev", "--")):
        ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in history], style, label=split)
        ax_loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, label=split)
    for ax, name in ((ax_acc, "accuracy"), (ax_loss, "loss (binary cross-entropy)")):
        if best_epoch:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion(confusion: list[list[int]], path: str | Path, title: str = "") -> Path:
    """A 2x2 confusion matrix (rows: true hand, columns: predicted hand)."""
    cm = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues", vmin=0)  # from 0: the text colour below follows max / 2
    for i in range(2):
        for j in range(2):
            colour = "white" if cm[i, j] > cm.max() / 2 else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=colour, fontsize=13)
    ax.set_xticks([0, 1], CLASS_NAMES)
    ax.set_yticks([0, 1], CLASS_NAMES)
    ax.set_xlabel("predicted hand")
    ax.set_ylabel("true hand")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_example_windows(examples: dict[str, np.ndarray | None], seconds: float,
                         path: str | Path) -> Path:
    """One window ``(window, 2)`` of movement per step (dx, dy px) per class, a row each: its
    path on the screen and its dx, dy per step (``None``: a class without an active window)."""
    fig, axes = plt.subplots(len(examples), 2, figsize=(9, 3 * len(examples)), squeeze=False)
    for (name, example), (ax_path, ax_steps) in zip(examples.items(), axes, strict=True):
        if example is None:
            for a in (ax_path, ax_steps):
                a.text(0.5, 0.5, f"no active window of class {name}", ha="center",
                       va="center", transform=a.transAxes)
            continue
        example = np.asarray(example, dtype=float)
        path_xy = np.vstack([[0.0, 0.0], np.cumsum(example, axis=0)])
        ax_path.plot(path_xy[:, 0], path_xy[:, 1], lw=1)
        ax_path.plot(path_xy[0, 0], path_xy[0, 1], "go", ms=4)
        ax_path.invert_yaxis()  # screen coordinates: y grows downwards
        ax_path.set_title(f"{name}: path of one window ({seconds:g} s)")
        ax_path.set_xlabel("x (px)")
        ax_path.set_ylabel("y (px)")
        ax_steps.plot(example[:, 0], lw=0.8, label="dx")
        ax_steps.plot(example[:, 1], lw=0.8, label="dy")
        ax_steps.set_title(f"{name}: movement per step")
        ax_steps.set_xlabel("step")
        ax_steps.set_ylabel("px / step")
        ax_steps.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc(roc: dict, auc: float | None, path: str | Path, title: str = "") -> Path:
    """The ROC curve of P(left) (:func:`deepmouse.evaluate.roc_points`): the share of left-hand
    windows called left against the share of right-hand windows called left, over every
    threshold."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="chance")
    label = "model" if auc is None else f"model (AUC {auc:.3f})"
    ax.plot(roc["fpr"], roc["tpr"], lw=1.5, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("right-hand windows called left (false positive rate)")
    ax.set_ylabel("left-hand windows called left (true positive rate)", fontsize=9)
    return _finish_axes(fig, ax, path, title)


def plot_decision_over_time(metrics: dict, path: str | Path, title: str = "") -> Path:
    """One split's decision against seconds of movement: the sequential decision's accuracy
    and the fraction of trials decided by then (``metrics["sequential"]["curve"]``, when
    present), and the accuracy of the mean rule after each horizon
    (``metrics["decision_accuracy"]``)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sequential = metrics.get("sequential")
    if sequential:
        curve = sequential["curve"]
        seconds = [c["seconds"] for c in curve]
        ax.plot(seconds, [np.nan if c["accuracy"] is None else c["accuracy"] for c in curve],
                "-", lw=1.8, label="accuracy of the decisions made")
        ax.plot(seconds, [c["decided"] for c in curve], "--", lw=1.5,
                label="fraction of trials decided")
        ax.axhline(sequential["threshold"], color="grey", lw=0.8, ls=":",
                   label=f"threshold {sequential['threshold']:g}")
    horizons = [(float(h), a) for h, a in metrics.get("decision_accuracy", {}).items()
                if a is not None]
    if horizons:
        ax.plot(*zip(*horizons, strict=True), "s", ms=5, color="C2",
                label="mean rule: accuracy, always deciding")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, None)
    ax.set_xlabel("seconds of movement")
    ax.set_ylabel("share")
    return _finish_axes(fig, ax, path, title)


def plot_reliability(metrics: dict, path: str | Path, title: str = "") -> Path:
    """Reliability diagram of one split's metrics (:func:`deepmouse.evaluate.evaluate_windows`):
    predicted P(left) against how often it was the left hand, per bin, for the windows as the
    model scores them, the windows calibrated on held-out sessions, and the posterior of the
    sequential decision. Marker area follows the bin's size."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="perfect calibration")
    series = [("windows, as scored", metrics.get("reliability"), metrics.get("ece"))]
    if "reliability_calibrated" in metrics:
        series.append(("windows, calibrated", metrics["reliability_calibrated"],
                       metrics["ece_calibrated"]))
    if "sequential" in metrics:
        series.append(("posterior (sequential)", metrics["sequential"]["reliability"],
                       metrics["sequential"]["ece"]))
    for label, points, ece in series:
        if not points:
            continue
        n = np.array([p["n"] for p in points], dtype=float)
        ax.plot([p["p_mean"] for p in points], [p["observed"] for p in points], "-o", lw=1,
                markersize=3, label=f"{label} (ECE {ece:.3f})")
        ax.scatter([p["p_mean"] for p in points], [p["observed"] for p in points],
                   s=200 * n / n.sum(), alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(left)")
    ax.set_ylabel("observed frequency of the left hand")
    return _finish_axes(fig, ax, path, title, legend="upper left", legend_size=7)


def plot_trials(accuracy: np.ndarray, path: str | Path) -> Path:
    """Dev accuracy ``(n,)`` of each finished trial in order, and the best so far."""
    fig, ax = plt.subplots(figsize=(6, 4))
    number = np.arange(len(accuracy))
    ax.plot(number, accuracy, "o", alpha=0.6, label="trial")
    ax.plot(number, np.maximum.accumulate(accuracy), "-", label="best so far")
    ax.set_xlabel("finished trial")
    ax.set_ylabel("dev accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_importances(importances: dict[str, float], path: str | Path) -> Path:
    """Horizontal bars of each parameter's importance (shares summing to 1)."""
    names = sorted(importances, key=importances.get)
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.5))
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance for dev accuracy (fANOVA)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_surface(X: np.ndarray, accuracy: np.ndarray, labels: list[str], path: str | Path,
                 resolution: int = 60) -> Path:
    """A Gaussian-process fit of dev accuracy ``(n,)`` over two parameters ``X`` ``(n, 2)``:
    its mean and its standard deviation side by side, with the trials on both."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    low, high = X.min(0), X.max(0)
    span = np.where(high > low, high - low, 1.0)
    unit = (X - low) / span  # the kernel's length scales are fitted on the unit square
    kernel = ConstantKernel() * Matern(length_scale=[0.3, 0.3], nu=2.5) + WhiteKernel(1e-3)
    with warnings.catch_warnings():  # a few dozen noisy trials often pin a length scale or the
        warnings.simplefilter("ignore", ConvergenceWarning)  # noise level at a bound
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=3,
                                      random_state=0).fit(unit, accuracy)
    grid = np.linspace(0, 1, resolution)
    gx, gy = np.meshgrid(grid, grid)
    mean, std = gp.predict(np.column_stack([gx.ravel(), gy.ravel()]), return_std=True)
    extent = (low[0], low[0] + span[0], low[1], low[1] + span[1])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, values, title in ((axes[0], mean, "dev accuracy (GP mean)"),
                              (axes[1], std, "uncertainty (GP std)")):
        image = ax.imshow(values.reshape(gx.shape), origin="lower", extent=extent,
                          aspect="auto", cmap="viridis")
        ax.scatter(X[:, 0], X[:, 1], c="white", edgecolors="black", s=25, label="trials")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(title)
        fig.colorbar(image, ax=ax)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)
