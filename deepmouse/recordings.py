"""Recordings and datasets: reading, validating and writing cursor traces.

A *recording* is one CSV file, one sample a line:

- ``t,x,y`` with a header line (written by ``deepmouse record``): ``t`` seconds since the
  start (float, strictly increasing), ``x``, ``y`` screen pixels;
- headerless ``x,y`` (the DeepMouse files): ``t = i * 0.01``.

A *dataset* is a folder with one subfolder per label, ``left/`` and ``right/``, one file per
recording session (``*.csv`` or ``*.txt``). Class index: 0 = right, 1 = left (as in DeepMouse).

Everything read from disk is validated here, at the boundary. A problem raises
:class:`DataError` whose message names the file and the line.

Memory is bounded: a recording is parsed a chunk at a time into 24 bytes a sample, and one of
more than :data:`MAX_SAMPLES` samples (or with a line longer than :data:`MAX_LINE_BYTES`) is
refused; ``dataset.json`` is read only up to :data:`MAX_INFO_BYTES`.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepmouse.atomic import write_atomic
from deepmouse.jsonio import loads_strict

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


MAX_SAMPLES = 20_000_000
"""Most samples one recording may hold: more than 55 hours at 100 Hz. Reading keeps 24 bytes a
sample (``t``, ``x``, ``y`` as float64), so at most about 460 MiB for the arrays of one
recording, plus one chunk being parsed (:data:`CHUNK_BYTES`). A longer file is refused."""

CHUNK_BYTES = 4 * 2**20
"""Bytes of a recording parsed at a time (about 150,000 ``t,x,y`` lines)."""

MAX_LINE_BYTES = 1024
"""Longest line a recording may have, in bytes (a sample line is under 100): without it a file
with no line break would have to be held whole."""

_EXPECTED = "expected CSV lines 't,x,y' or 'x,y'"

# Bytes the vectorised parser (np.loadtxt) reads exactly as float() does; a chunk with any other
# byte (letters, tabs, underscores, other Unicode digits or spaces) takes the line-by-line path.
_FAST_BYTES = b"0123456789.,+-eE \r\n"

# What str.splitlines() breaks a line at, as UTF-8 bytes; "\r" is handled apart ("\r\n").
_LINE_BREAKS = (b"\n", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85",
                b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shown(line: str, limit: int = 80) -> str:
    """``repr(line)`` for an error message, cut to ``limit`` characters of the line."""
    if len(line) <= limit:
        return repr(line)
    return f"{line[:limit]!r}... ({len(line)} characters)"


def check_regular_file(path: Path, what: str) -> None:
    """Raise :class:`DataError` unless ``path`` is (a link to) a regular file.

    Args:
        what: what the file should be, for the message (e.g. ``"recording file"``).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise DataError(f"{path}: broken symbolic link (expected a {what})") from None
        raise DataError(f"{path}: no such {what}") from None
    except (OSError, ValueError) as exc:  # a link loop, no permission, a NUL in the name
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise DataError(f"{path}: cannot open: {reason} (expected a {what})") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a folder (expected a {what})")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file (expected a {what})")


def _too_long(path: Path, found: str, max_samples: int) -> DataError:
    return DataError(
        f"{path}: {found}, more than the {max_samples:,} samples a recording may hold "
        f"({max_samples / DEFAULT_RATE / 3600:.1f} h at {DEFAULT_RATE:g} Hz); split it into "
        "several files"
    )


def _long_line(path: Path, lineno: int) -> DataError:
    return DataError(f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes ({_EXPECTED})")


class _LongLine(Exception):
    """A line of a recording is longer than :data:`MAX_LINE_BYTES`."""


def _last_break(data: bytes) -> int:
    """Index just past the last complete line break in ``data`` (0 if none).

    A ``\r`` at the very end is not complete: a ``\n`` may follow in the next chunk.
    """
    end = data.rfind(b"\n") + 1  # the common break first: the others only after it
    at = data.rfind(b"\r", end, len(data) - 1)
    if at >= 0:
        end = at + 1
    for brk in _LINE_BREAKS[1:]:
        at = data.rfind(brk, end)
        if at >= 0:
            end = at + len(brk)
    return end


def _pieces(f, chunk_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Split an open binary file into pieces of whole lines, ``(piece, is_last)``.

    A piece ends just after a line break (where ``str.splitlines`` breaks), except the last one,
    which holds whatever follows the last break; no piece is empty.

    Raises:
        _LongLine: a line (the one after the pieces yielded so far) is longer than
            :data:`MAX_LINE_BYTES`.
    """
    pending = b""
    held: bytes | None = None
    while block := f.read(chunk_bytes):
        data = pending + block
        cut = _last_break(data)
        if len(data) - cut > MAX_LINE_BYTES + 1:  # + 1: a "\r" that may begin "\r\n"
            if held is not None:
                yield held, False
            raise _LongLine
        if cut:
            if held is not None:
                yield held, False
            held, pending = data[:cut], data[cut:]
        else:
            pending = data
    if pending:
        if held is not None:
            yield held, False
        yield pending, True
    elif held is not None:
        yield held, True


def _scan(f, path: Path, chunk_bytes: int) -> int:
    """First pass over an open recording: refuse non-UTF-8 and blank files; an upper bound of
    its lines (each ``\n``, each lone ``\r``, and one more)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    blank = True
    try:
        while block := f.read(chunk_bytes):
            text = decoder.decode(block)
            if blank and text.strip():
                blank = False
            lines += block.count(b"\n")
            if cr := block.count(b"\r"):
                lines += cr - block.count(b"\r\n")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file ({_EXPECTED})") from None
    if blank:
        raise DataError(f"{path}: empty recording ({_EXPECTED})")
    return lines


class _Parser:
    """Parses the pieces of one recording, in order, into preallocated arrays."""

    def __init__(self, path: Path, capacity: int, max_samples: int) -> None:
        self.path = path
        self.capacity = max(capacity, 2)
        self.max_samples = max_samples
        self.n_cols = 0  # 2 or 3, known from the first line
        self.start = 0  # header lines
        self.lineno = 0  # lines parsed so far
        self.n = 0  # samples so far
        self.t = np.empty(0)
        self.xy = np.empty((0, 2))
        self.partial: str | None = None  # the message about a dropped partial last line

    def feed(self, piece: bytes, is_last: bool) -> None:
        skip = self._first_line(piece) if self.n_cols == 0 else 0
        parsed = self._fast(piece, skip)
        if parsed is None:
            parsed = self._slow(piece, skip, is_last)
        rows, n_lines = parsed
        self._append(rows)
        self.lineno += n_lines

    def _first_line(self, piece: bytes) -> int:
        """Read the header (or the first sample's column count); lines to skip (0 or 1)."""
        first = piece[: piece.find(b"\n") + 1 or None].decode("utf-8", "replace").splitlines()[0]
        self._check_length(first, 1)
        fields = [f.strip() for f in first.split(",")]
        if not all(_is_number(f) for f in fields):
            header = [f.lower() for f in fields]
            if header == ["t", "x", "y"]:
                self.n_cols = 3
            elif header == ["x", "y"]:
                self.n_cols = 2
            else:
                raise DataError(
                    f"{self.path}:1: unknown header {_shown(first)} (expected 't,x,y' or 'x,y')"
                )
            self.start = 1
            return 1
        self.n_cols = len(fields)
        if self.n_cols not in (2, 3):
            raise DataError(
                f"{self.path}:1: expected 2 columns 'x,y' or 3 columns 't,x,y', "
                f"found {self.n_cols}"
            )
        return 0

    def _check_length(self, line: str, lineno: int) -> None:
        if len(line) > MAX_LINE_BYTES // 4 and len(line.encode()) > MAX_LINE_BYTES:
            raise _long_line(self.path, lineno)

    def _fast(self, piece: bytes, skip: int) -> tuple[np.ndarray, int] | None:
        """Vectorised parse of a piece of plain, valid lines; ``None`` for anything else (the
        line-by-line path then says what is wrong, or reads what only it can)."""
        body = piece
        if skip:
            cut = piece.find(b"\n") + 1
            if cut == 0 or len(piece[:cut].decode("utf-8", "replace").splitlines()) != 1:
                return None
            body = piece[cut:]
        if not body:
            return np.empty((0, self.n_cols)), skip
        if body.translate(None, _FAST_BYTES):
            return None
        if (cr := body.count(b"\r")) and cr != body.count(b"\r\n"):
            return None
        n_lines = body.count(b"\n") + (not body.endswith(b"\n"))
        if len(body) > MAX_LINE_BYTES:
            ends = np.flatnonzero(np.frombuffer(body, np.uint8) == ord("\n"))
            longest = np.diff(ends, prepend=-1).max(initial=0) - 1
            if max(longest, len(body) - 1 - (ends[-1] if len(ends) else -1)) > MAX_LINE_BYTES:
                return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            try:
                rows = np.loadtxt(io.BytesIO(body), delimiter=",", comments=None,
                                  dtype=np.float64, ndmin=2)
            except ValueError:
                return None
        if rows.shape != (n_lines, self.n_cols) or not np.isfinite(rows).all():
            return None
        return rows, n_lines + skip

    def _slow(self, piece: bytes, skip: int, is_last: bool) -> tuple[np.ndarray, int]:
        """Line-by-line parse of a piece: the first bad line raises :class:`DataError`."""
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError:  # the file changed since it was scanned
            raise DataError(f"{self.path}: not a text file ({_EXPECTED})") from None
        lines = text.splitlines()
        ends_with_newline = text.endswith(("\n", "\r"))
        n_cols = self.n_cols
        rows: list[list[float]] = []
        for i in range(skip, len(lines)):
            line = lines[i].strip()
            lineno = self.lineno + i + 1
            last = is_last and i == len(lines) - 1
            self._check_length(lines[i], lineno)
            if not line:
                if last:
                    continue
                raise DataError(f"{self.path}:{lineno}: empty line inside the recording")
            fields = line.split(",")
            problem = None
            if len(fields) != n_cols:
                problem = f"expected {n_cols} columns, found {len(fields)}"
            else:
                try:
                    values = [float(f) for f in fields]
                except ValueError:
                    problem = f"non-numeric value in {_shown(line)}"
            if problem is not None:
                if last and not ends_with_newline:
                    self.partial = f"{self.path}:{lineno}: dropped a partial last line ({problem})"
                    continue
                raise DataError(f"{self.path}:{lineno}: {problem}")
            if not all(math.isfinite(v) for v in values):
                raise DataError(f"{self.path}:{lineno}: NaN or infinite value in {_shown(line)}")
            rows.append(values)
        return np.array(rows, dtype=np.float64).reshape(-1, n_cols), len(lines)

    def _append(self, rows: np.ndarray) -> None:
        """Add parsed rows ``(k, n_cols)`` to the arrays, growing them if the scan's bound was
        passed (the file grew since)."""
        end = self.n + len(rows)
        if end > self.max_samples:
            raise _too_long(self.path, f"more than {self.max_samples:,} samples",
                            self.max_samples)
        if end > len(self.xy):
            size = min(max(end, self.capacity, 2 * len(self.xy)), self.max_samples)
            xy = np.empty((size, 2))
            xy[: self.n] = self.xy[: self.n]
            self.xy = xy
            if self.n_cols == 3:  # headerless files get their times at the end
                t = np.empty(size)
                t[: self.n] = self.t[: self.n]
                self.t = t
        if self.n_cols == 3:
            self.t[self.n : end] = rows[:, 0]
        self.xy[self.n : end] = rows[:, -2:]
        self.n = end

    def recording(self, label: int | None) -> Recording:
        """The validated recording: at least two samples, time strictly increasing."""
        n = self.n
        if n < 2:
            raise DataError(f"{self.path}: truncated recording: {n} sample(s), need at least 2")
        xy = self.xy[:n]
        if self.n_cols == 2:
            t = np.arange(n, dtype=np.float64) * HEADERLESS_PERIOD
            return Recording(path=self.path, label=label, t=t, xy=xy, has_time=False)
        t = self.t[:n]
        block = 2**20  # compare in blocks: no full-length temporary
        for begin in range(0, n - 1, block):
            steps = np.diff(t[begin : begin + block + 1])
            bad = np.flatnonzero(steps <= 0)
            if bad.size:
                i = begin + int(bad[0])
                raise DataError(
                    f"{self.path}:{i + 2 + self.start}: time is not strictly increasing "
                    f"({t[i]:g} then {t[i + 1]:g})"
                )
        return Recording(path=self.path, label=label, t=t, xy=xy, has_time=True)


def read_recording(
    path: str | os.PathLike,
    label: int | None = None,
    *,
    max_samples: int = MAX_SAMPLES,
    chunk_bytes: int = CHUNK_BYTES,
) -> Recording:
    """Read and validate one recording file (``t,x,y`` with header, or headerless ``x,y``).

    A last line without its newline that does not parse (a recorder killed mid-write) is
    dropped with a :class:`PartialLineWarning`; any other bad line is a :class:`DataError`.

    Memory: the file is parsed ``chunk_bytes`` at a time into arrays of 24 bytes a sample (the
    float64 ``t``, ``x``, ``y``), never held whole: at most ``24 * max_samples`` bytes (about
    460 MiB for :data:`MAX_SAMPLES`) plus a few times ``chunk_bytes``.

    Args:
        max_samples: refuse a file with more samples (see :data:`MAX_SAMPLES`).
        chunk_bytes: bytes parsed at a time (the result does not depend on it).

    Raises:
        DataError: missing/empty file, wrong column count, non-numeric value, NaN or
            infinity, time not strictly increasing, fewer than two samples, a line longer than
            :data:`MAX_LINE_BYTES`, more than ``max_samples`` samples.
    """
    path = Path(path)
    check_regular_file(path, "recording file")
    try:
        with open(path, "rb") as f:
            lines = _scan(f, path, chunk_bytes)
            if lines - 3 > max_samples:  # beyond a header, a blank last line and a partial one
                raise _too_long(path, f"{lines:,} lines", max_samples)
            f.seek(0)
            parser = _Parser(path, lines, max_samples)
            try:
                for piece, is_last in _pieces(f, chunk_bytes):
                    parser.feed(piece, is_last)
            except _LongLine:
                raise _long_line(path, parser.lineno + 1) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if parser.partial is not None:
        warnings.warn(parser.partial, PartialLineWarning, stacklevel=2)
    return parser.recording(label)


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
    """Recording files in one class folder, sorted by name (hidden files skipped).

    Raises:
        DataError: the folder cannot be listed, or an entry named like a recording is not a
            readable regular file (a folder, a broken or looping link): it would be lost.
    """
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder: {exc.strerror}") from None
    files = [
        p for p in entries
        if p.suffix.lower() in RECORDING_SUFFIXES and not p.name.startswith(".")
    ]
    for p in files:
        check_regular_file(p, "recording file")
    return files


def _lexists(path: Path) -> bool:
    """Whether anything, even a broken link, is at ``path`` (``True`` when it cannot be told:
    the caller's check then says why)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True
    return True


def _hash_file(digest, path: Path, chunk_bytes: int = CHUNK_BYTES) -> None:
    """Feed a file's bytes to ``digest`` a chunk at a time."""
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk_bytes):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None


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
        if folder.is_dir():
            files = recording_files(folder)
        elif _lexists(folder):
            raise DataError(f"{folder}: not a folder (expected the '{name}' recordings in it)")
        else:
            files = []
        if not files and require_both:
            raise DataError(
                f"{root}: class '{name}' has no recordings (expected files in {folder}/)"
            )
        for f in files:
            recordings.append(read_recording(f, label=label))
            digest.update(f"{name}/{f.name}\0".encode())
            _hash_file(digest, f)
    if not recordings:
        raise DataError(f"{root}: no recordings found in {root}/left or {root}/right")
    info = read_dataset_info(root)
    return Dataset(root=root, recordings=recordings, info=info, checksum=digest.hexdigest())


MAX_INFO_BYTES = 2**20
"""Largest ``dataset.json`` read (it carries a device name, a screen size and notes)."""


def read_dataset_info(root: str | os.PathLike) -> dict:
    """The optional ``root/dataset.json`` object (``{}`` when absent).

    Raises:
        DataError: the file is not a JSON object, is not a regular file, or is larger than
            :data:`MAX_INFO_BYTES`.
    """
    info_path = Path(root) / "dataset.json"
    if not _lexists(info_path):
        return {}
    check_regular_file(info_path, "JSON file")
    try:
        with open(info_path, "rb") as f:
            raw = f.read(MAX_INFO_BYTES + 1)
    except OSError as exc:
        raise DataError(f"{info_path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_INFO_BYTES:
        raise DataError(f"{info_path}: larger than {MAX_INFO_BYTES:,} bytes (expected a small "
                        "JSON object: device, screen size, notes)")
    try:
        info = loads_strict(raw)
    except RecursionError:
        raise DataError(f"{info_path}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # bad UTF-8, bad JSON, an integer of thousands of digits
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
