"""Inspect a dataset: per-class summary and the DeepMouse figures, from the user's own data.

:func:`inspect_dataset` loads a dataset folder (one class may be missing: a user who has only
recorded one hand so far can still look at it) and returns an :class:`InspectReport`:

- per class: recordings, minutes, samples, the fraction of (non-overlapping) windows that are
  active, and windows per split (``chrono``) as :func:`deepmouse.windows.make_splits` makes them;
- sampling statistics per recording with timestamps (achieved rate, interval p99, spikes);
- three PNG figures (matplotlib, Agg backend), plus ``inspect.json`` with the figures' numbers:

  * ``intervals.png``: sampling interval over time for each timed recording (DeepMouse showed
    unstable intervals and spikes on its own data);
  * ``example_window.png``: one active window per class: path and per-step movement;
  * ``amplitude.png``: histogram of per-step movement amplitude, all steps vs. steps in active
    windows (idle filtering) vs. normalised by the train split's scale.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepmouse.atomic import FolderBusyError, folder_lock, write_atomic
from deepmouse.jsonio import dumps_strict
from deepmouse.recordings import (
    CLASS_NAMES,
    DataError,
    Dataset,
    Recording,
    interval_stats,
    load_dataset,
)

if TYPE_CHECKING:  # deepmouse.windows pulls in scikit-learn: imported when used, not at import
    from deepmouse.windows import WindowConfig

MAX_INTERVAL_TRACES = 8
"""At most this many recordings are drawn in ``intervals.png``."""


@dataclass
class ClassStats:
    """Summary of one class of a dataset."""

    name: str
    recordings: int = 0
    minutes: float = 0.0
    samples: int = 0
    windows: int = 0
    active_windows: int = 0
    split_windows: dict[str, int] = field(default_factory=dict)

    @property
    def active_fraction(self) -> float:
        """Fraction of non-overlapping windows that are active (0 when there are none)."""
        return self.active_windows / self.windows if self.windows else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["active_fraction"] = self.active_fraction
        return d


@dataclass
class RecordingTiming:
    """Sampling statistics of one recording with timestamps."""

    name: str
    label: str
    samples: int
    achieved_rate: float
    interval_p99_ms: float
    spikes: int


@dataclass
class InspectReport:
    """What :func:`inspect_dataset` found.

    Attributes:
        root: the dataset folder.
        config: the window configuration used.
        classes: per-class statistics, in class order (right, left).
        split_note: why windows per split are missing (``None`` when they are there).
        timing: sampling statistics of each recording with timestamps.
        untimed: recordings without timestamps (headerless ``x,y``).
        figures: paths of the PNG files written.
        data_path: ``inspect.json`` with the numbers behind the figures.
    """

    root: Path
    config: WindowConfig
    classes: list[ClassStats]
    split_note: str | None
    timing: list[RecordingTiming]
    untimed: int
    figures: list[Path]
    data_path: Path | None = None

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "config": self.config.to_dict(),
            "classes": [c.to_dict() for c in self.classes],
            "split_note": self.split_note,
            "timing": [asdict(t) for t in self.timing],
            "untimed_recordings": self.untimed,
            "figures": [str(p) for p in self.figures],
            "data": str(self.data_path) if self.data_path else None,
        }


def _windows(rec: Recording, config: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    """All steps ``(n_steps, 2)`` and non-overlapping windows ``(n, window, 2)`` of ``rec``."""
    from deepmouse.windows import cut, movement, resample


    steps = movement(resample(rec, config.rate))
    return steps, cut(steps, config.window, config.window)


def _amplitude(steps: np.ndarray) -> np.ndarray:
    """Per-step movement amplitude ``(n_steps, 2)`` → ``(n_steps,)`` (Euclidean, px)."""
    return np.hypot(steps[..., 0], steps[..., 1]).ravel()


PerRecording = tuple[Recording, np.ndarray, np.ndarray, np.ndarray]
"""A recording, its steps ``(n_steps, 2)``, its non-overlapping windows ``(n, window, 2)`` and
which of them are active ``(n,)``."""


def _measure(
    dataset: Dataset, config: WindowConfig
) -> tuple[list[ClassStats], list[RecordingTiming], list[PerRecording]]:
    """Per-class statistics (no split windows yet), the sampling of every timed recording, and
    each recording cut into windows."""
    from deepmouse.windows import active_mask

    classes = [ClassStats(name) for name in CLASS_NAMES]
    timing: list[RecordingTiming] = []
    per_rec: list[PerRecording] = []
    for rec in dataset.recordings:
        stats = classes[rec.label]
        steps, X = _windows(rec, config)
        keep = active_mask(X, config.idle_threshold)
        stats.recordings += 1
        stats.minutes += rec.duration / 60.0
        stats.samples += rec.n_samples
        stats.windows += len(X)
        stats.active_windows += int(keep.sum())
        per_rec.append((rec, steps, X, keep))
        if rec.has_time:
            s = interval_stats(rec.t, config.rate)
            timing.append(RecordingTiming(
                name=_short_name(rec, dataset), label=CLASS_NAMES[rec.label],
                samples=rec.n_samples, achieved_rate=s["achieved_rate"],
                interval_p99_ms=s["interval_p99_ms"], spikes=s["spikes"],
            ))
    return classes, timing, per_rec


def example_windows(per_rec: list[PerRecording]) -> dict[str, np.ndarray | None]:
    """The first active window ``(window, 2)`` of each class (``None`` for a class without
    one), by class name."""
    return {name: next((X[np.flatnonzero(keep)[0]] for rec, _, X, keep in per_rec
                        if CLASS_NAMES[rec.label] == name and keep.any()), None)
            for name in CLASS_NAMES}


def data_summary(dataset: Dataset, config: WindowConfig) -> dict:
    """What went into a run, small enough to keep beside it (a run folder's ``data.json``):
    the dataset's folder and checksum, the window configuration, per class the recordings,
    minutes, samples and share of active windows, the sampling of each timed recording, and
    one example window per class (``[[dx, dy], ...]`` px per step, or ``None``)."""
    classes, timing, per_rec = _measure(dataset, config)
    return {
        "dataset": str(dataset.root),
        "dataset_checksum": dataset.checksum,
        "window_config": config.to_dict(),
        "classes": [{k: v for k, v in c.to_dict().items() if k != "split_windows"}
                    for c in classes],
        "timing": [asdict(t) for t in timing],
        "untimed_recordings": sum(not r.has_time for r in dataset.recordings),
        "example_window": {name: None if X is None else X.round(3).tolist()
                           for name, X in example_windows(per_rec).items()},
    }


def inspect_dataset(
    root: str | os.PathLike,
    config: WindowConfig | None = None,
    out: str | os.PathLike | None = None,
    figures: bool = True,
) -> InspectReport:
    """Summarise ``root`` and (if ``figures``) write the PNGs and ``inspect.json`` into ``out``.

    Args:
        root: dataset folder (``left/``, ``right/``; one of them may be missing).
        config: window configuration (default :class:`WindowConfig()`).
        out: folder for the figures (default ``root/inspect``).

    Raises:
        DataError: no such folder, no recordings, or a bad recording file.
    """
    from deepmouse.windows import WindowConfig, fit_scale, make_splits

    config = config or WindowConfig()
    dataset = load_dataset(root, require_both=False)
    classes, timing, per_rec = _measure(dataset, config)
    split_note: str | None = None
    scale: np.ndarray | None = None
    try:
        splits = make_splits(dataset, config, method="chrono")
    except DataError as exc:
        split_note = str(exc)
    else:
        for stats in classes:
            stats.split_windows = {s: t[stats.name] for s, t in splits.table().items()}
        scale = fit_scale(splits.train.X)
    if scale is None:  # no splits: normalise by all active windows, and say so in the figure
        active = [X[keep] for _, _, X, keep in per_rec if keep.any()]
        scale = fit_scale(np.concatenate(active)) if active else None

    report = InspectReport(
        root=dataset.root, config=config, classes=classes, split_note=split_note,
        timing=timing, untimed=sum(not r.has_time for r in dataset.recordings), figures=[],
    )
    if figures:
        out_dir = Path(out) if out is not None else dataset.root / "inspect"
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(folder_lock(out_dir))
            except FolderBusyError:
                raise
            except OSError as exc:
                raise DataError(f"{out_dir}: cannot create the output folder: "
                                f"{exc.strerror}") from None
            _draw(report, dataset, per_rec, scale, out_dir)
    return report


def _short_name(rec: Recording, dataset: Dataset) -> str:
    if rec.path is None:
        return "<memory>"
    try:
        return rec.path.relative_to(dataset.root).as_posix()
    except ValueError:
        return rec.path.name


def _draw(
    report: InspectReport,
    dataset: Dataset,
    per_rec: list[PerRecording],
    scale: np.ndarray | None,
    out_dir: Path,
) -> None:
    import matplotlib.pyplot as plt

    from deepmouse.plots import plot_example_windows, save_figure

    config = report.config
    period_ms = 1e3 / config.rate
    data: dict = {"intervals": [], "example_window": {}, "amplitude": {}}

    # 1. sampling interval over time
    fig, ax = plt.subplots(figsize=(9, 4))
    timed = [(rec, steps) for rec, steps, _, _ in per_rec if rec.has_time][:MAX_INTERVAL_TRACES]
    for rec in (r for r, _ in timed):
        dt_ms = np.diff(rec.t) * 1e3
        name = _short_name(rec, dataset)
        ax.plot(rec.t[1:] - rec.t[0], dt_ms, lw=0.6, label=name)
        data["intervals"].append({
            "name": name, "t": (rec.t[1:] - rec.t[0]).round(4).tolist(),
            "interval_ms": dt_ms.round(4).tolist(),
        })
    if timed:
        ax.axhline(period_ms, color="k", lw=0.8, ls="--", label=f"period {period_ms:g} ms")
        ax.axhline(2 * period_ms, color="r", lw=0.8, ls=":", label="spike threshold (2x)")
        ax.legend(fontsize=7, loc="upper right")
    else:
        ax.text(0.5, 0.5, "no timestamps in these recordings (headerless x,y files)",
                ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("interval between samples (ms)")
    ax.set_title("Sampling-interval stability")
    fig.tight_layout()
    report.figures.append(save_figure(fig, out_dir / "intervals.png"))

    # 2. one example active window per class
    examples = example_windows(per_rec)
    report.figures.append(plot_example_windows(examples, config.seconds,
                                               out_dir / "example_window.png"))
    data["example_window"] = {name: X.round(4).tolist() for name, X in examples.items()
                              if X is not None}

    # 3. movement amplitude before / after idle filtering and normalisation
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    titles = ("all steps (raw px)", "active windows only (px)", "active, normalised")
    for name in CLASS_NAMES:
        recs = [(steps, X, keep) for rec, steps, X, keep in per_rec
                if CLASS_NAMES[rec.label] == name]
        if not recs:
            continue
        raw = np.concatenate([_amplitude(s) for s, _, _ in recs])
        active_X = [X[keep] for _, X, keep in recs if keep.any()]
        active = _amplitude(np.concatenate(active_X)) if active_X else np.zeros(0)
        normed = (_amplitude(np.concatenate(active_X) / scale) if active_X and scale is not None
                  else np.zeros(0))
        entry = {}
        for ax, title, values in zip(axes, titles, (raw, active, normed), strict=True):
            counts, edges = _histogram(values)
            if len(values):
                ax.stairs(counts, edges, label=f"{name} (n={len(values)})")
            ax.set_title(title)
            entry[title] = {"counts": counts.tolist(), "edges": edges.round(6).tolist()}
        data["amplitude"][name] = entry
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("step amplitude (last bin: above the 99.5th percentile)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no steps", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel("steps")
    scale_note = ("scale from the train split" if report.split_note is None
                  else "scale from all active windows (no splits)")
    fig.suptitle(f"Movement amplitude: idle threshold {config.idle_threshold:g} px, "
                 f"{scale_note}", fontsize=9)
    fig.tight_layout()
    report.figures.append(save_figure(fig, out_dir / "amplitude.png"))

    data["scale"] = None if scale is None else np.asarray(scale).tolist()
    data["report"] = report.to_dict()
    report.data_path = out_dir / "inspect.json"
    write_atomic(report.data_path, dumps_strict(data))


def _histogram(values: np.ndarray, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Histogram up to the 99.5th percentile (long tails squash the rest): counts, edges."""
    if len(values) == 0:
        return np.zeros(bins, np.int64), np.linspace(0, 1, bins + 1)
    top = float(np.percentile(values, 99.5))
    top = top if top > 0 else 1.0
    counts, edges = np.histogram(np.clip(values, 0, top), bins=bins, range=(0, top))
    return counts, edges


def print_report(report: InspectReport) -> None:
    """The per-class table, sampling notes and figure paths, with Rich."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    cfg = report.config
    table = Table(title=f"{report.root}  (window {cfg.window} steps at {cfg.rate:g} Hz, "
                        f"idle threshold {cfg.idle_threshold:g} px)")
    table.add_column("class")
    for col in ("recordings", "minutes", "samples", "active", "train", "dev", "test"):
        table.add_column(col, justify="right")
    for c in report.classes:
        splits = [str(c.split_windows.get(s, "-")) for s in ("train", "dev", "test")]
        table.add_row(c.name, str(c.recordings), f"{c.minutes:.1f}", str(c.samples),
                      f"{c.active_fraction:.0%}", *splits)
    console.print(table)
    if report.split_note:
        console.print(f"[yellow]no splits:[/] {report.split_note}", markup=True)
    if report.timing:
        worst = max(report.timing, key=lambda t: t.interval_p99_ms)
        rates = [t.achieved_rate for t in report.timing]
        console.print(
            f"sampling: {len(report.timing)} timed recording(s), achieved rate "
            f"{min(rates):.1f}-{max(rates):.1f} Hz, worst interval p99 "
            f"{worst.interval_p99_ms:.2f} ms ({worst.name}), "
            f"{sum(t.spikes for t in report.timing)} delay spike(s)"
        )
    if report.untimed:
        console.print(f"{report.untimed} recording(s) without timestamps (headerless x,y)")
    for path in report.figures:
        print(path)
    if report.data_path:
        print(report.data_path)
