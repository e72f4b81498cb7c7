"""Recordings and datasets: reading, validating and writing cursor traces.

A *recording* is one CSV file, one sample a line:

- ``t,x,y`` with a header line (written by ``deepmouse record``): ``t`` seconds since the
  start (float, strictly increasing), ``x``, ``y`` screen pixels;
- headerless ``x,y`` (the DeepMouse files): ``t = i * 0.01``.

A *dataset* is a folder with one subfolder per label, ``left/`` and ``right/``, one file per
recording session (``*.csv`` or ``*.txt``). Class index: 0 = right, 1 = left (as in DeepMouse).

Everything read from disk is validated here, at the boundary. A problem raises
:class:`DataError` whose message names the file and the line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepmouse.atomic import write_atomic

CLASS_NAMES: tuple[str, str] = ("right", "left")
"""Class names by index: 0 = right, 1 = left."""

DEFAULT_RATE = 100.0
"""Samples per second: ``deepmouse record``'s polling rate and the windows' uniform grid
(DeepMouse polled every ~10 ms)."""

HEADERLESS_PERIOD = 1.0 / DEFAULT_RATE
"""Sampling period assumed for headerless ``x,y`` files (DeepMouse's)."""

DEFAULT_SCREEN: tuple[int, int] = (1536, 864)
"""Screen size in pixels of the DeepMouse recordings, and of synthetic data by default."""

RECORDING_SUFFIXES = (".csv", ".txt")


class DataError(ValueError):
    """Bad input data: the message is one line that names the file (and line) at fault."""


class PartialLineWarning(UserWarning):
    """The last line of a recording was cut short (e.g. the recorder was killed) and dropped."""


@dataclass(frozen=True)
class Recording:
    """One recording session of one hand.

    Attributes:
        path: where it was read from (``None`` for recordings built in memory).
        label: class index, 0 = right, 1 = left (``None`` if unknown).
        t: sample times in seconds, strictly increasing, shape ``(n_samples,)``.
        xy: cursor positions in pixels, shape ``(n_samples, 2)``.
        has_time: whether the file carried timestamps (``t,x,y``) or ``t`` was synthesised.
    """

    path: Path | None
    label: int | None
    t: np.ndarray
    xy: np.ndarray
    has_time: bool = True

    @property
    def n_samples(self) -> int:
        return len(self.t)

    @property
    def duration(self) -> float:
        """Seconds from the first to the last sample."""
        return float(self.t[-1] - self.t[0]) if len(self.t) else 0.0

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else "<memory>"


@dataclass
class Dataset:
    """A labelled set of recordings (the ``left/`` + ``right/`` folder layout).

    Attributes:
        root: the dataset folder.
        recordings: every recording, sorted by (label, file name).
        info: contents of the optional ``dataset.json`` (device, screen size, notes).
        checksum: SHA-256 over the relative paths and bytes of every recording file.
    """

    root: Path
    recordings: list[Recording]
    info: dict = field(default_factory=dict)
    checksum: str = ""

    def by_label(self, label: int) -> list[Recording]:
        return [r for r in self.recordings if r.label == label]

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.recordings], dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_recording(path: str | os.PathLike, label: int | None = None) -> Recording:
    """Read and validate one recording file (``t,x,y`` with header, or headerless ``x,y``).

    A last line without its newline that does not parse (a recorder killed mid-write) is
    dropped with a :class:`PartialLineWarning`; any other bad line is a :class:`DataError`.

    Raises:
        DataError: missing/empty file, wrong column count, non-numeric value, NaN or
            infinity, time not strictly increasing, fewer than two samples.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such recording file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (expected CSV lines 't,x,y' or 'x,y')") from None
    if not text.strip():
        raise DataError(f"{path}: empty recording (expected CSV lines 't,x,y' or 'x,y')")

    lines = text.splitlines()
    ends_with_newline = text.endswith(("\n", "\r"))
    first_fields = [f.strip() for f in lines[0].split(",")]
    has_header = not all(_is_number(f) for f in first_fields)
    if has_header:
        header = [f.lower() for f in first_fields]
        if header == ["t", "x", "y"]:
            n_cols = 3
        elif header == ["x", "y"]:
            n_cols = 2
        else:
            raise DataError(
                f"{path}:1: unknown header {lines[0]!r} (expected 't,x,y' or 'x,y')"
            )
        start = 1
    else:
        n_cols = len(first_fields)
        if n_cols not in (2, 3):
            raise DataError(
                f"{path}:1: expected 2 columns 'x,y' or 3 columns 't,x,y', found {n_cols}"
            )
        start = 0

    rows: list[list[float]] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        lineno = i + 1
        is_last = i == len(lines) - 1
        if not line:
            if is_last:
                continue
            raise DataError(f"{path}:{lineno}: empty line inside the recording")
        fields = line.split(",")
        problem = None
        if len(fields) != n_cols:
            problem = f"expected {n_cols} columns, found {len(fields)}"
        else:
            try:
                values = [float(f) for f in fields]
            except ValueError:
                problem = f"non-numeric value in {line!r}"
        if problem is not None:
            if is_last and not ends_with_newline:
                warnings.warn(
                    f"{path}:{lineno}: dropped a partial last line ({problem})",
                    PartialLineWarning,
                    stacklevel=2,
                )
                continue
            raise DataError(f"{path}:{lineno}: {problem}")
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"{path}:{lineno}: NaN or infinite value in {line!r}")
        rows.append(values)

    if len(rows) < 2:
        raise DataError(f"{path}: truncated recording: {len(rows)} sample(s), need at least 2")
    data = np.asarray(rows, dtype=np.float64)
    if n_cols == 3:
        t, xy = data[:, 0], data[:, 1:3]
        steps = np.diff(t)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            lineno = int(bad[0]) + 2 + start
            raise DataError(
                f"{path}:{lineno}: time is not strictly increasing "
                f"({t[bad[0]]:g} then {t[bad[0] + 1]:g})"
            )
        has_time = True
    else:
        t = np.arange(len(data), dtype=np.float64) * HEADERLESS_PERIOD
        xy = data
        has_time = False
    return Recording(path=path, label=label, t=t, xy=np.ascontiguousarray(xy), has_time=has_time)


def write_recording(path: str | os.PathLike, t: np.ndarray, xy: np.ndarray) -> Path:
    """Write a recording as ``t,x,y`` CSV with a header, atomically (temp file + rename).

    Args:
        t: sample times in seconds, shape ``(n_samples,)``.
        xy: cursor positions in pixels, shape ``(n_samples, 2)``.
    """
    path = Path(path)
    t = np.asarray(t, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64)
    if t.ndim != 1 or xy.shape != (len(t), 2):
        raise ValueError(f"expected t (n,) and xy (n, 2), got {t.shape} and {xy.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{ti:.4f},{x:.6g},{y:.6g}\n" for ti, (x, y) in zip(t, xy, strict=True)]
    return write_atomic(path, "t,x,y\n" + "".join(lines))


def recording_files(folder: Path) -> list[Path]:
    """Recording files in one class folder, sorted by name (hidden files skipped)."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES and not p.name.startswith(".")
    )


def load_dataset(root: str | os.PathLike, require_both: bool = True) -> Dataset:
    """Load a dataset folder (``root/left/*``, ``root/right/*``, optional ``dataset.json``).

    Args:
        root: the dataset folder.
        require_both: raise if either class has no recording (needed to train).

    Raises:
        DataError: missing folder, a missing class, or any bad recording file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such dataset folder (expected {root}/left and {root}/right)")
    recordings: list[Recording] = []
    digest = hashlib.sha256()
    for label, name in enumerate(CLASS_NAMES):
        folder = root / name
        files = recording_files(folder) if folder.is_dir() else []
        if not files and require_both:
            raise DataError(
                f"{root}: class '{name}' has no recordings (expected files in {folder}/)"
            )
        for f in files:
            digest.update(f"{name}/{f.name}\0".encode())
            digest.update(f.read_bytes())
            recordings.append(read_recording(f, label=label))
    if not recordings:
        raise DataError(f"{root}: no recordings found in {root}/left or {root}/right")
    info = read_dataset_info(root)
    return Dataset(root=root, recordings=recordings, info=info, checksum=digest.hexdigest())


def read_dataset_info(root: str | os.PathLike) -> dict:
    """The optional ``root/dataset.json`` object (``{}`` when absent).

    Raises:
        DataError: the file is not a JSON object.
    """
    info_path = Path(root) / "dataset.json"
    if not info_path.is_file():
        return {}
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{info_path}: not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise DataError(f"{info_path}: expected a JSON object")
    return info


def interval_stats(t: np.ndarray, rate: float) -> dict[str, float]:
    """Sampling statistics of timestamps ``t`` ``(n,)`` polled at ``rate`` Hz.

    Returns ``achieved_rate`` (Hz), ``interval_mean_ms``, ``interval_std_ms``,
    ``interval_p99_ms``, ``interval_max_ms`` and ``spikes`` (intervals > 2 periods).
    Fewer than two samples give zeros (and NaN-free output).
    """
    t = np.asarray(t, dtype=np.float64)
    if len(t) < 2:
        return dict(achieved_rate=0.0, interval_mean_ms=0.0, interval_std_ms=0.0,
                    interval_p99_ms=0.0, interval_max_ms=0.0, spikes=0)
    dt = np.diff(t)
    duration = float(t[-1] - t[0])
    return dict(
        achieved_rate=(len(t) - 1) / duration if duration > 0 else 0.0,
        interval_mean_ms=float(dt.mean() * 1e3),
        interval_std_ms=float(dt.std() * 1e3),
        interval_p99_ms=float(np.percentile(dt, 99) * 1e3),
        interval_max_ms=float(dt.max() * 1e3),
        spikes=int(np.sum(dt > 2.0 / rate)),
    )
