"""Record the real cursor: fixed-rate polling on a monotonic clock, crash-safe CSV output.

:func:`record` polls the pointer position (:mod:`deepmouse.pointer`) every ``1 / rate`` seconds
and writes ``t,x,y`` lines (with a header) into ``DATASET/<hand>/<UTC start time>.csv``.

- **Timing.** :func:`deepmouse.pointer.poll` never drifts and never bursts; a stall shows up as
  a *delay spike* in the summary (an interval longer than twice the period).
- **Crash safety.** Samples are handed to a writer thread which appends whole lines to the file
  and ``fsync``-s it every :data:`FLUSH_SECONDS`; the file never ends in the middle of a line
  except for a write cut by the OS itself. Ctrl-C / SIGTERM end the recording cleanly with a
  complete file and a summary; a ``kill -9`` loses at most the last second.
- **A full disk** stops the recording with a clear error; the file keeps the whole lines written
  before it.
- **Never overwrites**: an existing name gets a ``-1``, ``-2`` ... suffix.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from deepmouse.atomic import WriteError, write_atomic
from deepmouse.jsonio import dumps_strict
from deepmouse.pointer import MAX_RATE, PointerError, Position, StopSignals, pointer, poll
from deepmouse.recordings import (
    CLASS_NAMES,
    DEFAULT_RATE,
    RECORDING_SUFFIXES,
    DataError,
    interval_stats,
    read_dataset_info,
    read_recording,
)
from deepmouse.windows import WindowConfig, active_mask, active_seconds, movement

FLUSH_SECONDS = 0.5
"""Samples reach the disk (write + fsync) at least this often."""

FIRST_MODEL_MINUTES = 6.0
"""Minutes of movement per hand after which a first model is worth training. On held-out mouse
sessions stroke-cnn (the default when this was measured) trained on 5.7 minutes per hand scores
0.70 a window and decides right 85% of the time after 10 s of movement, against 0.65 / 77% with
2.8 minutes and 0.78 / 95% with 23 minutes: usable, and more still helps ("How much to record"
in ``benchmarks/RESULTS.md``)."""

DEVICES = ("touchpad", "mouse")


@dataclass
class RecordSummary:
    """What one recording session produced.

    Attributes:
        path: the CSV file written.
        samples: number of samples in the file.
        duration: seconds from the first to the last sample.
        rate: requested rate (Hz).
        achieved_rate: ``(samples - 1) / duration`` (Hz).
        interval_mean_ms, interval_std_ms, interval_p99_ms, interval_max_ms: statistics of
            the intervals between consecutive samples, in milliseconds.
        spikes: intervals longer than twice the period (delay spikes).
        stopped_by: why the recording ended (``seconds``, ``SIGINT``, ``SIGTERM``, ``stop``,
            ``lost the pointer after ...``).
    """

    path: Path
    samples: int
    duration: float
    rate: float
    achieved_rate: float
    interval_mean_ms: float
    interval_std_ms: float
    interval_p99_ms: float
    interval_max_ms: float
    spikes: int
    stopped_by: str
    active_seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d

    def lines(self) -> list[str]:
        """Human-readable summary, one fact a line."""
        return [
            f"wrote {self.path}",
            f"samples: {self.samples} in {self.duration:.2f} s (stopped by {self.stopped_by})",
            f"rate: {self.achieved_rate:.2f} Hz achieved, {self.rate:g} Hz requested",
            f"interval: mean {self.interval_mean_ms:.3f} ms, std {self.interval_std_ms:.3f} ms, "
            f"p99 {self.interval_p99_ms:.3f} ms, max {self.interval_max_ms:.3f} ms",
            f"delay spikes (> {2000.0 / self.rate:.3g} ms): {self.spikes}",
            f"movement: {self.active_seconds:.0f} s (windows that move; pauses do not count)",
        ]


class ActiveClock:
    """Counts seconds of movement while recording, as :func:`deepmouse.windows.active_seconds`
    counts them in the finished file: back-to-back windows of the polled samples that pass the
    idle filter.

    Args:
        config: the windows a model would cut (default: :class:`WindowConfig`'s defaults at
            the recording's rate).
    """

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()
        self.seconds = 0.0
        self._positions: list[tuple[float, float]] = []

    @classmethod
    def for_rate(cls, rate: float) -> ActiveClock:
        """A clock of the default window's seconds (2 s) at a recorder's polling ``rate``."""
        default = WindowConfig()
        window = max(2, round(default.seconds * rate))
        return cls(WindowConfig(window=window, rate=float(rate)))

    def push(self, x: float, y: float) -> None:
        """Add one polled position; completes a window every ``window`` steps."""
        self._positions.append((x, y))
        if len(self._positions) == self.config.window + 1:
            X = movement(np.array(self._positions))[None]  # (1, window, 2)
            if active_mask(X, self.config.idle_threshold)[0]:
                self.seconds += self.config.seconds
            self._positions = self._positions[-1:]  # the next window starts at this position


def recorded_seconds(dataset: str | os.PathLike, config: WindowConfig | None = None
                     ) -> dict[str, float]:
    """Seconds of movement per hand already in ``dataset`` (files that do not load count 0:
    ``deepmouse data inspect`` names what is wrong with them)."""
    config = config or WindowConfig()
    totals = dict.fromkeys(CLASS_NAMES, 0.0)
    for hand in CLASS_NAMES:
        folder = Path(dataset) / hand
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.suffix not in RECORDING_SUFFIXES:
                continue
            try:
                totals[hand] += active_seconds(read_recording(path), config)
            except DataError:
                continue
    return totals


def new_recording_path(dataset: Path, hand: str, when: datetime | None = None) -> Path:
    """``dataset/<hand>/<UTC time>.csv``, with a ``-N`` suffix if the name is taken.

    The file is created (empty) here, exclusively, so two recorders never share a file.
    """
    folder = Path(dataset) / hand
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%SZ")
    for n in range(10_000):
        path = folder / (f"{stamp}.csv" if n == 0 else f"{stamp}-{n}.csv")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise DataError(f"{folder}: cannot find a free file name for {stamp}.csv")


def update_dataset_info(dataset: Path, recording: Path, device: str | None, rate: float) -> None:
    """Note the recording (device, rate) in ``dataset/dataset.json``, written atomically.

    The top-level ``device`` is the device of every recording, or ``"mixed"``.
    """
    dataset = Path(dataset)
    info = read_dataset_info(dataset)
    entries = info.setdefault("recordings", {})
    if not isinstance(entries, dict):
        raise DataError(f"{dataset / 'dataset.json'}: 'recordings' must be a JSON object")
    rel = recording.relative_to(dataset).as_posix()
    entries[rel] = {"device": device, "rate": rate}
    if device is not None:
        if info.get("device") in (None, device):
            info["device"] = device
        else:
            info["device"] = "mixed"
    write_atomic(dataset / "dataset.json", dumps_strict(info, indent=2, sort_keys=True) + "\n")


class _Writer(threading.Thread):
    """Appends chunks of complete lines to a file and fsyncs after each chunk.

    If a chunk cannot be written (a full disk), the file is cut back to the end of the last
    chunk written whole, so it holds only complete lines, and writing stops.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(name="deepmouse-record-writer", daemon=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.error: OSError | None = None
        self.written = 0
        """Bytes of whole chunks on disk."""

    def run(self) -> None:
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                break
            try:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view):]
                os.fsync(self.fd)
                self.written += len(chunk)
            except OSError as exc:
                self.error = exc
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, self.written)
                break

    def close(self) -> None:
        self.chunks.put(None)
        self.join()
        os.close(self.fd)


def check_arguments(
    dataset: str | os.PathLike,
    hand: str,
    seconds: float | None = None,
    rate: float = DEFAULT_RATE,
    device: str | None = None,
) -> Path:
    """Validate :func:`record`'s arguments (and ``dataset.json``) before touching the pointer.

    Raises:
        DataError: the first problem found, in one line.
    """
    if hand not in CLASS_NAMES:
        raise DataError(f"hand must be one of {', '.join(CLASS_NAMES)}, got {hand!r}")
    if device is not None and device not in DEVICES:
        raise DataError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if not (0 < rate <= MAX_RATE):
        raise DataError(f"rate must be in (0, {MAX_RATE:g}] Hz, got {rate:g}")
    if seconds is not None and not seconds > 0:
        raise DataError(f"seconds must be positive, got {seconds:g}")
    dataset = Path(dataset)
    if dataset.exists() and not dataset.is_dir():
        raise DataError(f"{dataset}: not a folder")
    read_dataset_info(dataset)  # fail early on a broken dataset.json
    return dataset


def record(
    dataset: str | os.PathLike,
    hand: str,
    seconds: float | None = None,
    rate: float = DEFAULT_RATE,
    device: str | None = None,
    stop_event: threading.Event | None = None,
    on_sample: Callable[[float, float, float], None] | None = None,
    active: ActiveClock | None = None,
    position: Position | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> RecordSummary:
    """Record the pointer into ``dataset/<hand>/<UTC start>.csv`` until stopped.

    Args:
        dataset: the dataset folder (created if missing).
        hand: ``left`` or ``right``.
        seconds: stop after this many seconds (``None``: until a signal or ``stop_event``).
        rate: polling rate in Hz.
        device: ``touchpad`` or ``mouse``; noted in ``dataset.json`` when given.
        stop_event: set it (from another thread) to end the recording.
        on_sample: called with ``(t, x, y)`` after each sample (keep it fast).
        active: counts the seconds of movement as samples come (default: a new
            :class:`ActiveClock` for 2-s windows at ``rate``); pass one to watch it live.
        position: pointer reader (default: :func:`pointer`, the real cursor via pynput).
        clock, sleep: the time source of the polling (a test passes a fake one).

    In the main thread, SIGINT (Ctrl-C) and SIGTERM end the recording cleanly.

    Raises:
        PointerError: no display or pointer reachable (checked before any file is created).
        DataError: bad arguments or an unreadable ``dataset.json``.
        WriteError: the disk filled up; the recording keeps the whole lines written before.
    """
    dataset = check_arguments(dataset, hand, seconds, rate, device)
    active = active or ActiveClock.for_rate(rate)
    own_pointer = position is None
    position = position or pointer()

    path = new_recording_path(dataset, hand)
    writer = _Writer(path)
    writer.chunks.put(b"t,x,y\n")
    writer.start()
    stop = stop_event or threading.Event()
    times: list[float] = []
    pending: list[str] = []
    last_flush = 0.0
    stopped_by = "stop"
    try:
        with StopSignals(stop) as signals:
            try:
                for t, x, y in poll(position, rate, seconds, stop, clock, sleep):
                    times.append(t)
                    pending.append(f"{t:.6f},{x:.6g},{y:.6g}\n")
                    active.push(x, y)
                    if on_sample is not None:
                        on_sample(t, x, y)
                    if t - last_flush >= FLUSH_SECONDS:
                        writer.chunks.put("".join(pending).encode())
                        pending.clear()
                        last_flush = t
                    if writer.error is not None:
                        break
                else:
                    stopped_by = "seconds" if not stop.is_set() else "stop"
            except KeyboardInterrupt:
                signals.received = "SIGINT"
            except PointerError as exc:  # the display went away: keep what was recorded
                stopped_by = str(exc)
            if signals.received:
                stopped_by = signals.received
    finally:
        if pending:
            writer.chunks.put("".join(pending).encode())
        writer.close()
        if own_pointer:
            position.close()  # type: ignore[attr-defined]
    if writer.error is not None:
        kept = max(0, path.read_bytes().count(b"\n") - 1)  # whole lines, less the header
        raise WriteError(writer.error.errno, f"{path}: cannot write ({writer.error.strerror}): "
                         f"recording stopped, the {kept} samples before it are kept")
    update_dataset_info(dataset, path, device, rate)
    stats = interval_stats(np.asarray(times), rate)
    return RecordSummary(
        path=path,
        samples=len(times),
        duration=float(times[-1] - times[0]) if len(times) > 1 else 0.0,
        rate=rate,
        stopped_by=stopped_by,
        active_seconds=active.seconds,
        **stats,
    )
