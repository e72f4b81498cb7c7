"""Record the real cursor: fixed-rate polling on a monotonic clock, crash-safe CSV output.

``deepmouse record DATASET --hand left`` polls the pointer position through :mod:`pynput`
(X11, Windows, macOS) every ``1 / rate`` seconds and writes ``t,x,y`` lines (with a header)
into ``DATASET/<hand>/<UTC start time>.csv``.

- **Timing.** Sample ``k`` is due at ``start + k / rate`` on :func:`time.perf_counter` (a
  monotonic clock); the loop sleeps until the next deadline, so small delays never accumulate
  into drift. When the process falls more than one period behind (a stall), the missed deadlines
  are skipped rather than sampled in a burst; the stall shows up as a *delay spike* in the
  summary (an interval longer than twice the period).
- **Crash safety.** Samples are handed to a writer thread which appends whole lines to the file
  and ``fsync``-s it every :data:`FLUSH_SECONDS`; the file never ends in the middle of a line
  except for a write cut by the OS itself. Ctrl-C / SIGTERM end the recording cleanly with a
  complete file and a summary; a ``kill -9`` loses at most the last second.
- **Never overwrites**: an existing name gets a ``-1``, ``-2`` ... suffix.

The polling loop (:func:`poll`) is shared with ``deepmouse live``.

This module also holds :func:`register`, which adds ``record``, ``live`` and ``data inspect`` to
the command line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from deepmouse.recordings import CLASS_NAMES, DataError, read_dataset_info

FLUSH_SECONDS = 0.5
"""Samples reach the disk (write + fsync) at least this often."""

MAX_RATE = 1000.0
"""Highest polling rate accepted (Hz)."""

DEVICES = ("touchpad", "mouse")

Position = Callable[[], tuple[float, float]]
"""A function returning the current pointer position ``(x, y)`` in screen pixels."""


class PointerError(DataError):
    """No display or pointer can be reached (no X server, DISPLAY unset, no permission...)."""


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
        ]


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


def pointer() -> Position:
    """A function that reads the pointer position, checked to work once.

    Raises:
        PointerError: no display (``DISPLAY`` unset on Linux), pynput cannot load a backend,
            or reading the position fails.
    """
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise PointerError(
            "no display: DISPLAY is not set (run inside an X11 session, or under Xvfb)"
        )
    try:
        from pynput.mouse import Controller

        controller = Controller()
        x, y = controller.position
    except Exception as exc:  # pynput raises ImportError, Xlib errors, OSError...
        detail = " ".join(str(exc).split()) or type(exc).__name__
        where = os.environ.get("DISPLAY", "")
        raise PointerError(
            f"cannot read the pointer position{f' on display {where}' if where else ''}: "
            f"{detail}"
        ) from None
    if x is None or y is None:
        raise PointerError("cannot read the pointer position: the backend returned no position")

    return _Pointer(controller)


class _Pointer:
    """The real pointer through a pynput controller; ``close()`` releases its display."""

    def __init__(self, controller: object) -> None:
        self.controller = controller

    def __call__(self) -> tuple[float, float]:
        px, py = self.controller.position  # type: ignore[attr-defined]
        return float(px), float(py)

    def close(self) -> None:
        display = getattr(self.controller, "_display", None)  # Xlib only
        if display is not None:
            try:
                display.close()
            except Exception:  # already gone with its server
                pass
            del self.controller._display  # type: ignore[attr-defined]  # pynput's __del__ checks


def poll(
    position: Position,
    rate: float,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[tuple[float, float, float]]:
    """Poll ``position`` at ``rate`` Hz on a monotonic clock; yield ``(t, x, y)``.

    ``t`` is seconds since the first sample (taken just before reading the position). Sample
    ``k`` is due at ``start + k / rate``; deadlines missed by more than a period are skipped, so
    the schedule never drifts and never bursts. Stops after ``seconds`` (if given) or when
    ``stop`` is set.

    Raises:
        PointerError: ``position`` failed (e.g. the X server went away).
    """
    if not 0 < rate <= MAX_RATE:
        raise DataError(f"rate must be in (0, {MAX_RATE:g}] Hz, got {rate:g}")
    period = 1.0 / rate
    start = clock()
    k = 0
    while True:
        if stop is not None and stop.is_set():
            return
        if seconds is not None and k * period > seconds + 1e-9:
            return  # the sample due at `seconds` itself is taken: 0 .. seconds inclusive
        deadline = start + k * period
        now = clock()
        if deadline > now:
            time.sleep(deadline - now)
            now = clock()
        t = now - start
        try:
            x, y = position()
        except Exception as exc:  # the display went away (Xlib ConnectionClosedError, ...)
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise PointerError(f"lost the pointer after {t:.2f} s: {detail}") from None
        yield t, x, y
        # next deadline strictly in the future (skip missed ones, no catch-up burst)
        k = max(k + 1, math.floor((clock() - start) / period) + 1)


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
    tmp = dataset / ".dataset.json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dataset / "dataset.json")


class _Writer(threading.Thread):
    """Appends chunks of complete lines to a file and fsyncs after each chunk."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="deepmouse-record-writer", daemon=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.error: OSError | None = None

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
            except OSError as exc:
                self.error = exc
                break

    def close(self) -> None:
        self.chunks.put(None)
        self.join()
        os.close(self.fd)


class StopSignals:
    """While active (main thread only), SIGINT and SIGTERM set an event instead of killing."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: str | None = None
        self.saved: dict[int, object] = {}

    def _handler(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum).name
        self.stop.set()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


def check_arguments(
    dataset: str | os.PathLike,
    hand: str,
    seconds: float | None = None,
    rate: float = 100.0,
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
    rate: float = 100.0,
    device: str | None = None,
    stop_event: threading.Event | None = None,
    on_sample: Callable[[float, float, float], None] | None = None,
    position: Position | None = None,
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
        position: pointer reader (default: :func:`pointer`, the real cursor via pynput).

    In the main thread, SIGINT (Ctrl-C) and SIGTERM end the recording cleanly.

    Raises:
        PointerError: no display or pointer reachable (checked before any file is created).
        DataError: bad arguments or an unreadable ``dataset.json``.
    """
    dataset = check_arguments(dataset, hand, seconds, rate, device)
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
                for t, x, y in poll(position, rate, seconds, stop):
                    times.append(t)
                    pending.append(f"{t:.6f},{x:.6g},{y:.6g}\n")
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
        raise DataError(f"{path}: cannot write: {writer.error.strerror}")
    update_dataset_info(dataset, path, device, rate)
    stats = interval_stats(np.asarray(times), rate)
    return RecordSummary(
        path=path,
        samples=len(times),
        duration=float(times[-1] - times[0]) if len(times) > 1 else 0.0,
        rate=rate,
        stopped_by=stopped_by,
        **stats,
    )


# --------------------------------------------------------------------------- command line


def _fail(message: str) -> typer.Exit:
    """Print one red error line on stderr; return the ``Exit(2)`` to raise."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(' '.join(message.split()))}"
    )
    return typer.Exit(2)


@contextlib.contextmanager
def _progress(
    console: object, seconds: float | None, enabled: bool
) -> Iterator[Callable[[float, float, float], None] | None]:
    """A transient Rich progress line (elapsed time, samples) on a terminal; else nothing.

    Yields the ``on_sample`` callback for :func:`record`: it only updates a counter; Rich redraws
    twice a second from its own thread.
    """
    if not enabled or not getattr(console, "is_terminal", False):
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("recording"), TimeElapsedColumn(), TextColumn("{task.fields[n]} samples")]
    if seconds:
        columns.insert(1, BarColumn())
    with Progress(*columns, console=console, transient=True, refresh_per_second=2) as progress:
        task_id = progress.add_task("record", total=seconds, n=0)
        task = next(t for t in progress.tasks if t.id == task_id)

        def on_sample(t: float, x: float, y: float) -> None:
            task.fields["n"] += 1  # plain attribute writes: no lock, no redraw here
            task.completed = t

        yield on_sample


def _help(doc: str | None) -> str:
    """A docstring as Typer help: lines of a paragraph joined, paragraphs kept."""
    paragraphs = (doc or "").strip().split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add ``record`` and ``live`` to ``app`` and ``inspect`` to ``data_app``.

    Each command turns :class:`~deepmouse.recordings.DataError` (and its subclasses:
    :class:`PointerError`, ``ModelFileError``) into one red line on stderr and exit status 2.
    """

    def record_command(
        dataset: Annotated[Path, typer.Argument(
            help="Dataset folder; the file goes into DATASET/<hand>/<UTC time>.csv.")],
        hand: Annotated[str, typer.Option(
            "--hand", help="Which hand moves the pointer: left or right.")],
        seconds: Annotated[float | None, typer.Option(
            "--seconds", help="Stop after this many seconds (default: until Ctrl-C).")] = None,
        rate: Annotated[float, typer.Option("--rate", help="Polling rate in Hz.")] = 100.0,
        device: Annotated[str | None, typer.Option(
            "--device", help="touchpad or mouse; noted in DATASET/dataset.json.")] = None,
        json_out: Annotated[bool, typer.Option(
            "--json", help="Print the summary as one JSON object.")] = False,
    ) -> None:
        """Record the cursor position of one hand into a dataset.

        Polls the pointer at a fixed rate on a monotonic clock and writes t,x,y lines
        (t seconds since start, x,y screen pixels). Data reach the disk at least every
        second; Ctrl-C or SIGTERM end with a complete file and a summary (samples, achieved
        rate, interval mean/std/p99, delay spikes). Never overwrites a file.
        """
        from rich.console import Console

        err = Console(stderr=True, highlight=False)
        try:
            check_arguments(dataset, hand, seconds, rate, device)
            position = pointer()
            if not json_out:
                limit = f"for {seconds:g} s" if seconds else "until Ctrl-C"
                err.print(f"recording the {hand} hand at {rate:g} Hz {limit}...")
            with _progress(err, seconds, enabled=not json_out) as on_sample:
                summary = record(dataset, hand, seconds=seconds, rate=rate, device=device,
                                 position=position, on_sample=on_sample)
        except DataError as exc:
            raise _fail(str(exc)) from None
        if json_out:
            print(json.dumps(summary.to_dict()))
        else:
            for line in summary.lines():
                print(line)
            if summary.samples < 2:
                err.print("[yellow]warning:[/] fewer than 2 samples: the file will not load")

    def live_command(
        model: Annotated[Path, typer.Argument(
            help="Model file (model.safetensors) or a run folder holding one.")],
        seconds: Annotated[float | None, typer.Option(
            "--seconds", help="Stop after this many seconds (default: until Ctrl-C or, "
            "with --replay, the end of the file).")] = None,
        replay: Annotated[Path | None, typer.Option(
            "--replay", help="Drive the predictor from this recording instead of the "
            "live cursor.")] = None,
        speed: Annotated[float, typer.Option(
            "--speed", help="Replay speed: 1 = real time, 10 = ten times faster, "
            "0 = as fast as possible.")] = 1.0,
        hop: Annotated[float, typer.Option(
            "--hop", help="Seconds between updates.")] = 0.5,
        json_lines: Annotated[bool, typer.Option(
            "--json-lines", help="Print one JSON object per update instead of the live "
            "display.")] = False,
    ) -> None:
        """Tell live which hand moves the pointer.

        Polls the cursor at the model's rate, keeps a sliding window, and every --hop
        seconds shows the current window's P(left) (idle windows are skipped, not guessed)
        and the decision accumulated over all active windows so far (mean log-odds), with
        its confidence.
        """
        from deepmouse import live

        try:
            live.run_live(model, seconds=seconds, replay=replay, speed=speed, hop=hop,
                          json_lines=json_lines)
        except DataError as exc:
            raise _fail(str(exc)) from None

    def inspect_command(
        dataset: Annotated[Path, typer.Argument(
            help="Dataset folder with left/ and right/ (one may be missing).")],
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder for the PNG figures (default: DATASET/inspect).")] = None,
        window: Annotated[int, typer.Option(
            "--window", help="Window length in steps.")] = 200,
        rate: Annotated[float, typer.Option("--rate", help="Resampling rate in Hz.")] = 100.0,
        idle_threshold: Annotated[float, typer.Option(
            "--idle-threshold", help="Minimum per-axis movement std (px/step) of an active "
            "window.")] = 0.1,
        json_out: Annotated[bool, typer.Option(
            "--json", help="Print the report as one JSON object.")] = False,
    ) -> None:
        """Summarise a dataset and draw its figures.

        Per class: recordings, minutes, active fraction, windows per split (chrono). Figures:
        sampling-interval stability over time, one example window, and the movement-amplitude
        histogram before and after idle filtering and normalisation.
        """
        from deepmouse import inspect_data
        from deepmouse.windows import WindowConfig

        try:
            config = WindowConfig(window=window, rate=rate, idle_threshold=idle_threshold)
            report = inspect_data.inspect_dataset(dataset, config=config, out=out)
        except (DataError, ValueError) as exc:
            raise _fail(str(exc)) from None
        if json_out:
            print(json.dumps(report.to_dict()))
        else:
            inspect_data.print_report(report)

    app.command("record", help=_help(record_command.__doc__))(record_command)
    app.command("live", help=_help(live_command.__doc__))(live_command)
    data_app.command("inspect", help=_help(inspect_command.__doc__))(inspect_command)


def _standalone() -> None:
    """``python -m deepmouse.record``: the three commands without the full CLI."""
    app = typer.Typer(no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)
    data_app = typer.Typer(no_args_is_help=True)
    app.add_typer(data_app, name="data", help="Datasets.")
    register(app, data_app)
    app()


if __name__ == "__main__":
    _standalone()
