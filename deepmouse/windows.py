"""Windows: from recordings to the arrays a model sees, and the train/dev/test splits.

The steps, in order:

1. **resample** a recording with timestamps onto a uniform grid at ``rate`` Hz (linear
   interpolation of the positions); headerless recordings are already one sample per period;
2. **movement**: differences between consecutive positions, ``(n_samples - 1, 2)`` pixels a step;
3. **cut** the movement into windows of ``window`` steps with a given ``stride``;
4. **drop idle** windows: the standard deviation of the movement along *each* axis must exceed
   ``idle_threshold`` (DeepMouse: 0.1 px) for a window to count as active;
5. **split** train/dev/test (``chrono``, ``session`` or ``random``), see :func:`make_splits`;
6. **normalise** by per-axis scale constants learned on the train split only
   (:func:`fit_scale`), stored with the model.

Windows hold raw movement in pixels; normalisation belongs to the model, so the same windows can
be fed to any model.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deepmouse.recordings import CLASS_NAMES, DEFAULT_RATE, DataError, Dataset, Recording

SPLITS = ("chrono", "session", "random")
"""Split methods; the first is the default."""
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
"""Train, dev and test shares of every split method that divides time or windows."""
DEFAULT_WINDOW = 200
"""Steps per window: 2 s at :data:`~deepmouse.recordings.DEFAULT_RATE`, as DeepMouse cut them."""
DEFAULT_IDLE_THRESHOLD = 0.1
"""Per-axis std of a window's movement (px/step) below which it is idle (DeepMouse's)."""
MAX_WINDOW = 100_000
"""Longest window in steps (1000 s at 100 Hz): a longer one is refused before any buffer of its
size is allocated."""
MAX_GRID_RATE = 10_000.0
"""Highest resampling rate in Hz (a pointer is not polled faster)."""


class OptimisticSplitWarning(UserWarning):
    """The ``random`` split shares recordings between train and test: accuracy is overstated."""


@dataclass
class WindowConfig:
    """How recordings become windows.

    Attributes:
        window: movement steps per window (200 at 100 Hz = 2 s).
        rate: sampling rate in Hz after resampling.
        stride: step between train windows (``None`` = ``window``, no overlap). Dev, test and
            evaluation windows never overlap.
        idle_threshold: minimum per-axis std of a window's movement (px/step) to be active.
    """

    window: int = DEFAULT_WINDOW
    rate: float = DEFAULT_RATE
    stride: int | None = None
    idle_threshold: float = DEFAULT_IDLE_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("window", "stride"):
            value = getattr(self, name)
            if not (value is None and name == "stride") and (
                    isinstance(value, bool) or not isinstance(value, int | np.integer)):
                raise ValueError(f"{name} must be a whole number of steps, got {value!r}")
        for name in ("rate", "idle_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number) or (
                    not math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 2 <= self.window <= MAX_WINDOW:
            raise ValueError(f"window must be 2-{MAX_WINDOW} steps, got {self.window}")
        if not 0 < self.rate <= MAX_GRID_RATE:
            raise ValueError(f"rate must be in (0, {MAX_GRID_RATE:g}] Hz, got {self.rate}")
        if self.stride is not None and not 1 <= self.stride <= MAX_WINDOW:
            raise ValueError(f"stride must be 1-{MAX_WINDOW} steps, got {self.stride}")
        if self.idle_threshold < 0:
            raise ValueError(f"idle_threshold must be >= 0, got {self.idle_threshold}")

    @property
    def train_stride(self) -> int:
        return self.stride or self.window

    @property
    def seconds(self) -> float:
        """Duration of one window in seconds."""
        return self.window / self.rate

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class WindowSet:
    """Windows of one split, in recording and time order.

    Attributes:
        X: movement windows in pixels per step, ``(n_windows, window, 2)`` float32.
        y: class index per window (0 = right, 1 = left), ``(n_windows,)``.
        recording: index of the source recording in ``Dataset.recordings``, ``(n_windows,)``.
        start: start time of each window in seconds from its recording's start, ``(n_windows,)``.
    """

    X: np.ndarray
    y: np.ndarray
    recording: np.ndarray
    start: np.ndarray
    n_idle: int = 0

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        """Windows per class name."""
        return {name: int(np.sum(self.y == i)) for i, name in enumerate(CLASS_NAMES)}

    @classmethod
    def concatenate(cls, parts: list[WindowSet], window: int) -> WindowSet:
        if not parts:
            return cls.empty(window)
        if len(parts) == 1:  # nothing to join: no copy of its windows
            return parts[0]
        return cls(
            X=np.concatenate([p.X for p in parts]),
            y=np.concatenate([p.y for p in parts]),
            recording=np.concatenate([p.recording for p in parts]),
            start=np.concatenate([p.start for p in parts]),
            n_idle=sum(p.n_idle for p in parts),
        )

    @classmethod
    def empty(cls, window: int) -> WindowSet:
        return cls(
            X=np.zeros((0, window, 2), np.float32),
            y=np.zeros(0, np.int64),
            recording=np.zeros(0, np.int64),
            start=np.zeros(0, np.float64),
        )

    def subset(self, mask: np.ndarray) -> WindowSet:
        return WindowSet(self.X[mask], self.y[mask], self.recording[mask], self.start[mask])


@dataclass
class Splits:
    """The three splits, plus what produced them."""

    train: WindowSet
    dev: WindowSet
    test: WindowSet
    method: str
    config: WindowConfig
    held_out: dict[str, list[str]] = field(default_factory=dict)
    dev_recordings: list[int] | None = None
    test_recordings: list[int] | None = None

    def table(self) -> dict[str, dict[str, int]]:
        """``{split: {class name: windows}}``."""
        return {name: getattr(self, name).counts() for name in ("train", "dev", "test")}


RESAMPLE_BLOCK = 2**20
"""Grid points interpolated at a time: the temporaries of resampling stay this small."""
MASK_BLOCK = 4096
"""Windows whose idle test is computed at a time: no temporary the size of all windows."""


def grid_length(rec: Recording, rate: float) -> int:
    """``len(resample(rec, rate))`` without resampling (the length numpy's ``arange`` gives)."""
    if not rec.has_time:
        return rec.n_samples
    return max(0, math.ceil((float(rec.t[-1]) + 1e-9 - float(rec.t[0])) / (1.0 / rate)))


def resample(rec: Recording, rate: float) -> np.ndarray:
    """Positions on a uniform time grid at ``rate`` Hz, ``(n_uniform, 2)``.

    Recordings without timestamps (headerless ``x,y``) are taken as already uniform. The grid is
    interpolated a block at a time from the samples around the block only: the same numbers as
    one ``np.interp`` over the whole grid, without np.interp's full-length temporaries.
    """
    if not rec.has_time:
        return rec.xy
    grid = np.arange(rec.t[0], rec.t[-1] + 1e-9, 1.0 / rate)
    out = np.empty((len(grid), 2))
    for begin in range(0, len(grid), RESAMPLE_BLOCK):
        x = grid[begin : begin + RESAMPLE_BLOCK]
        # the samples bracketing the block: interpolation between them is all it needs
        lo = max(int(np.searchsorted(rec.t, x[0], "right")) - 1, 0)
        hi = int(np.searchsorted(rec.t, x[-1], "left")) + 1
        for k in range(2):
            out[begin : begin + len(x), k] = np.interp(x, rec.t[lo:hi], rec.xy[lo:hi, k])
    return out


def movement(xy: np.ndarray) -> np.ndarray:
    """Step-to-step movement, ``(n_samples, 2)`` positions → ``(n_samples - 1, 2)``."""
    return np.diff(np.asarray(xy, dtype=np.float64), axis=0)


def cut(steps: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Cut a movement sequence ``(n_steps, 2)`` into windows ``(n_windows, window, 2)``.

    Windows start at ``0, stride, 2*stride, ...``; a tail shorter than ``window`` is dropped.
    """
    if len(steps) < window:
        return np.zeros((0, window, 2), dtype=np.float32)
    view = sliding_window_view(steps, window, axis=0)[::stride]  # (n, 2, window)
    return np.ascontiguousarray(view.transpose(0, 2, 1), dtype=np.float32)


def active_mask(X: np.ndarray, idle_threshold: float) -> np.ndarray:
    """Which windows ``(n_windows, window, 2)`` move: per-axis std above the threshold on both.

    Computed :data:`MASK_BLOCK` windows at a time (each window's std does not depend on the
    others), so the temporaries of ``std`` stay small.
    """
    keep = np.zeros(len(X), dtype=bool)
    for begin in range(0, len(X), MASK_BLOCK):
        std = X[begin : begin + MASK_BLOCK].std(axis=1)  # (block, 2)
        keep[begin : begin + MASK_BLOCK] = np.all(std > idle_threshold, axis=1)
    return keep


def active_seconds(rec: Recording, config: WindowConfig) -> float:
    """Seconds of movement in ``rec`` as a model sees them: back-to-back windows that pass the
    idle filter, times the window's length (the pauses of a reading hand do not count)."""
    X = cut(movement(resample(rec, config.rate)), config.window, config.window)
    return float(active_mask(X, config.idle_threshold).sum()) * config.seconds


def fit_scale(X: np.ndarray) -> np.ndarray:
    """Per-axis normalisation constants from (train) windows ``(n, window, 2)`` → ``(2,)``.

    The standard deviation of all movement values along each axis (DeepMouse divided by the
    mean per-window std; one global std is the same idea and stable for small windows).
    """
    if len(X) == 0:
        raise DataError("no active training windows to learn normalisation from")
    scale = X.reshape(-1, 2).std(axis=0).astype(np.float64)
    return np.where(scale > 1e-6, scale, 1.0)


Segment = tuple[tuple[float, float], int]
"""A part of a recording's time: its ``(start, end)`` fractions and the stride of its windows."""


def _recording_windows(
    rec: Recording, index: int, config: WindowConfig, segments: list[Segment]
) -> list[WindowSet]:
    """Active windows lying wholly inside each segment of one recording's time (resampled
    once; each segment's movement is computed from its own positions only)."""
    xy = resample(rec, config.rate)
    n_steps = max(len(xy) - 1, 0)
    label = -1 if rec.label is None else rec.label
    sets = []
    for bounds, stride in segments:
        lo, hi = (int(round(b * n_steps)) for b in bounds)
        X = cut(movement(xy[lo : hi + 1]), config.window, stride)  # steps lo..hi-1
        start = (lo + np.arange(len(X)) * stride) / config.rate
        keep = active_mask(X, config.idle_threshold)
        n_active = int(keep.sum())
        sets.append(WindowSet(
            X=X if n_active == len(X) else X[keep],
            y=np.full(n_active, label, dtype=np.int64),
            recording=np.full(n_active, index, dtype=np.int64),
            start=start[keep],
            n_idle=len(X) - n_active,
        ))
    return sets


def check_recordings_hold_a_window(
    dataset: Dataset, config: WindowConfig, fraction: float = 1.0
) -> None:
    """Raise :class:`DataError` if some recording (or its ``fraction``) is shorter than a window."""
    for rec in dataset.recordings:
        n_steps = grid_length(rec, config.rate) - 1
        if int(n_steps * fraction) < config.window:
            where = "" if fraction == 1.0 else f" (its {fraction:.0%} split share)"
            raise DataError(
                f"{rec.name}: window of {config.window} steps ({config.seconds:g} s) is longer "
                f"than the recording{where}: {int(n_steps * fraction)} steps"
            )


def all_windows(dataset: Dataset, config: WindowConfig) -> WindowSet:
    """Every active, non-overlapping window of a dataset (for ``--split all``)."""
    check_recordings_hold_a_window(dataset, config)
    whole = [((0.0, 1.0), config.window)]
    parts = [_recording_windows(r, i, config, whole)[0] for i, r in enumerate(dataset.recordings)]
    return WindowSet.concatenate(parts, config.window)


def make_splits(
    dataset: Dataset,
    config: WindowConfig,
    method: str = "chrono",
    seed: int = 0,
    test_recordings: list[int] | None = None,
    dev_recordings: list[int] | None = None,
    test_stride: int | None = None,
) -> Splits:
    """Split a dataset into train/dev/test windows (70/15/15).

    Args:
        method: ``chrono`` — inside every recording, the first 70% of time is train, the next
            15% dev, the last 15% test; no window crosses a boundary. ``session`` — whole
            recordings are held out (``test_recordings``/``dev_recordings`` indices, or by
            default one recording per class for test and one for dev, chosen with ``seed``).
            ``random`` — non-overlapping windows shuffled and split as DeepMouse did; warns
            with :class:`OptimisticSplitWarning`.
        seed: for ``session`` (which recordings) and ``random`` (which windows).
        test_stride: steps between test windows for ``chrono`` and ``session`` (default: the
            window, back to back); shorter gives the overlapping windows ``live`` scores.

    Raises:
        DataError: a window longer than a split's share of a recording, too few recordings
            for ``session``, or a split left without both classes.
    """
    if method not in SPLITS:
        raise DataError(f"unknown split {method!r} (expected one of {', '.join(SPLITS)})")
    if test_stride is not None and (method == "random" or not 1 <= test_stride):
        raise ValueError(f"test_stride must be >= 1 with a chrono or session split, got "
                         f"{test_stride} with {method}")
    test_stride = config.window if test_stride is None else int(test_stride)
    recs = dataset.recordings
    held_out: dict[str, list[str]] = {}
    if method == "chrono":
        check_recordings_hold_a_window(dataset, config, SPLIT_FRACTIONS[1])
        edges = np.cumsum((0.0,) + SPLIT_FRACTIONS)
        strides = (config.train_stride, config.window, test_stride)
        segments = [((float(edges[k]), float(edges[k + 1])), strides[k]) for k in range(3)]
        per_recording = [_recording_windows(r, i, config, segments) for i, r in enumerate(recs)]
        train, dev, test = (
            WindowSet.concatenate([sets[k] for sets in per_recording], config.window)
            for k in range(3)
        )
    elif method == "session":
        check_recordings_hold_a_window(dataset, config)
        if test_recordings is None or dev_recordings is None:
            rng = np.random.default_rng(seed)
            test_recordings, dev_recordings = [], []
            for label, name in enumerate(CLASS_NAMES):
                idx = [i for i, r in enumerate(recs) if r.label == label]
                if len(idx) < 3:
                    raise DataError(
                        f"{dataset.root}: split 'session' needs at least 3 recordings of class "
                        f"'{name}' (train, dev, test), found {len(idx)}"
                    )
                chosen = rng.permutation(idx)
                test_recordings.append(int(chosen[0]))
                dev_recordings.append(int(chosen[1]))
        overlap = set(test_recordings) & set(dev_recordings)
        if overlap:
            raise DataError(f"recordings {sorted(overlap)} are in both dev and test")
        train_idx = [i for i in range(len(recs)) if i not in test_recordings + dev_recordings]

        def gather(indices: list[int], stride: int) -> WindowSet:
            whole = [((0.0, 1.0), stride)]
            parts = [_recording_windows(recs[i], i, config, whole)[0] for i in indices]
            return WindowSet.concatenate(parts, config.window)

        train = gather(train_idx, config.train_stride)
        dev = gather(sorted(dev_recordings), config.window)
        test = gather(sorted(test_recordings), test_stride)
        held_out = {
            "dev": [recs[i].name for i in sorted(dev_recordings)],
            "test": [recs[i].name for i in sorted(test_recordings)],
        }
    else:
        warnings.warn(
            "split 'random' shuffles windows of the same recordings into train and test: "
            "neighbouring windows are correlated, so its accuracy is optimistic "
            "(use 'chrono' or 'session' for an honest figure)",
            OptimisticSplitWarning,
            stacklevel=2,
        )
        from sklearn.model_selection import train_test_split

        pool = all_windows(dataset, config)
        order = np.arange(len(pool))
        _, dev_share, test_share = SPLIT_FRACTIONS
        try:
            idx_train, idx_rest = train_test_split(
                order, test_size=dev_share + test_share, random_state=seed, stratify=pool.y
            )
            idx_dev, idx_test = train_test_split(
                idx_rest, test_size=test_share / (dev_share + test_share), random_state=seed,
                stratify=pool.y[idx_rest],
            )
        except ValueError as exc:
            raise DataError(f"{dataset.root}: too few active windows to split: {exc}") from None
        train, dev, test = (pool.subset(np.sort(ix)) for ix in (idx_train, idx_dev, idx_test))
    splits = Splits(train, dev, test, method, config, held_out)
    if method == "session":
        splits.dev_recordings = sorted(dev_recordings)
        splits.test_recordings = sorted(test_recordings)
    for name in ("train", "dev", "test"):
        counts = getattr(splits, name).counts()
        missing = [c for c, n in counts.items() if n == 0]
        if missing:
            raise DataError(
                f"{dataset.root}: split '{name}' has no active windows of class "
                f"{', '.join(missing)} (window {config.window}, idle threshold "
                f"{config.idle_threshold}); record more or use a shorter window"
            )
    return splits
