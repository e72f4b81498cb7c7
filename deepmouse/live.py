"""Live prediction: which hand moves the pointer, updated every ``hop`` seconds.

One streaming code path serves the live cursor and the replay of a recording:

- :class:`StreamingPredictor` takes raw samples ``(t, x, y)`` one at a time, resamples them on
  the fly onto the model's uniform grid (linear interpolation, exactly as
  :func:`deepmouse.windows.resample` does for a whole recording), keeps the last
  ``window + 1`` positions in a ring buffer, and every ``hop`` seconds turns them into one
  movement window ``(1, window, 2)``. Idle windows (:func:`deepmouse.windows.active_mask` with the
  model's idle threshold) are reported as idle and not guessed; active ones get
  ``P(left)`` from ``model.predict_proba_one`` (its one-window path; ``predict_proba`` for a
  model without one), and the posterior over all active windows so far
  comes from :class:`deepmouse.decision.SequentialDecision`, the filter ``evaluate`` scores:
  "undecided" until P(hand) reaches the threshold, a change of hand followed. The posterior
  counts the active windows back to back: one that shares steps with the last window counted
  is shown but not counted, as the decision's constants were fitted and its promise measured
  on windows back to back (counting overlapping windows by their new steps decided no sooner
  with 2-s windows, and the default's touchpad decisions fell below the threshold:
  ``benchmarks/RESULTS.md``). A model file without decision constants (format 1) gets the
  mean log-odds of its windows and never
  decides.
- :func:`live_samples` polls the real cursor at the model's rate
  (:func:`deepmouse.pointer.poll`, as the recorder does); :func:`replay_samples` reads a
  recording and paces it in real time, ``speed`` times faster, or as fast as possible
  (``speed=0``).
- :func:`run_live` ties them to a Rich live display or to JSON lines (one object per update).
"""

from __future__ import annotations

import collections
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from deepmouse.decision import SequentialDecision
from deepmouse.jsonio import dumps_strict
from deepmouse.recordings import CLASS_NAMES, DataError, read_recording

if TYPE_CHECKING:
    from deepmouse.decision import DecisionModel
    from deepmouse.windows import WindowConfig

DEFAULT_HOP = 0.5
"""Seconds between two updates of the live prediction."""
DEFAULT_SPEED = 1.0
"""Replay speed: real time."""


class ProbaModel(Protocol):
    """What the predictor needs from a model (e.g. :class:`deepmouse.modelfile.HandModel`)."""

    window_config: WindowConfig
    decision: DecisionModel | None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Raw movement windows ``(n, window, 2)`` px → ``(n, 2)`` [P(right), P(left)]."""
        ...


@dataclass
class Update:
    """One update of the live prediction (every ``hop`` seconds once a window is full).

    Attributes:
        t: time of the window's last grid sample, seconds since the first sample.
        idle: the current window does not move enough to be guessed.
        p_left: P(left) of the current window (``None`` when idle).
        decision: the more likely hand over all active windows so far (``None`` before the
            first active window).
        p_decision: its probability (>= 0.5; 0.5 without evidence).
        p_left_total: the posterior P(left) given every active window so far.
        decided: ``"left"`` or ``"right"`` once P(hand) reaches the threshold, else ``None``.
        seconds_to_decision: seconds of movement it took to reach the current decision
            (``None`` while undecided).
        n_windows: active windows aggregated so far.
        n_idle: idle windows skipped so far.
        latency_ms: time spent computing this update (window, idle check, model, decision).
    """

    t: float
    idle: bool
    p_left: float | None
    decision: str | None
    p_decision: float
    p_left_total: float
    decided: str | None
    seconds_to_decision: float | None
    n_windows: int
    n_idle: int
    latency_ms: float

    def to_dict(self) -> dict:
        return asdict(self)


class StreamingPredictor:
    """Push raw samples ``(t, x, y)``; get an :class:`Update` every ``hop`` seconds.

    The windows are exactly those of ``cut(movement(resample(rec, rate)), window, hop_steps)``
    on the same samples, so the probabilities equal batch ``model.predict_proba`` on them (up
    to float32 rounding where the model scores one window by a path of its own).

    Args:
        model: anything with ``window_config``, ``decision`` and ``predict_proba``, and
            optionally ``predict_proba_one`` for a single window
            (:class:`ProbaModel`).
        hop: seconds between updates (rounded to whole grid steps, at least one).
        threshold: P(hand) at which to decide (default: the model's).
    """

    def __init__(self, model: ProbaModel, hop: float = DEFAULT_HOP,
                 threshold: float | None = None) -> None:
        from deepmouse.evaluate import decision_probability, log_odds
        from deepmouse.windows import active_mask

        if not (hop > 0 and math.isfinite(hop)):
            raise DataError(f"hop must be a positive number of seconds, got {hop:g}")
        self.model = model
        # one window per update: the model's one-window path where it has one
        self._proba = getattr(model, "predict_proba_one", model.predict_proba)
        self.config = model.window_config
        self.rate = float(self.config.rate)
        self.window = int(self.config.window)
        self.hop_steps = max(1, int(round(hop * self.rate)))
        self._mean_rule = decision_probability
        self._log_odds = log_odds
        self._active = active_mask
        self.decision_model = model.decision
        if self.decision_model is not None and threshold is not None:
            self.decision_model = self.decision_model.with_options(threshold=threshold)
        size = self.window + 1
        # each position is written twice (i and i + size) so the last `size` are contiguous
        self._ring = np.zeros((2 * size, 2), dtype=np.float64)
        self._size = size
        self.reset()

    def reset(self) -> None:
        """Forget every sample and every window (start a new stream)."""
        self._n_grid = 0
        self._t0: float | None = None
        self._prev: tuple[float, float, float] | None = None
        self._p = np.zeros(256, dtype=np.float64)  # P(left) of active windows, grows x2
        self._n_active = 0
        self.n_idle = 0
        self._posterior = None
        self._last_counted: int | None = None  # grid step of the last window counted
        self._sequential = (None if self.decision_model is None else
                            SequentialDecision(self.decision_model, self.config.seconds))

    @property
    def p_left(self) -> np.ndarray:
        """P(left) of every active window so far, in order, ``(n_active,)`` (a view)."""
        return self._p[: self._n_active]

    @property
    def hop(self) -> float:
        """Seconds between updates (after rounding to grid steps)."""
        return self.hop_steps / self.rate

    @property
    def filled(self) -> float:
        """Fraction of the first window collected so far (1.0 once updates flow)."""
        return min(1.0, self._n_grid / self._size)

    def push(self, t: float, x: float, y: float) -> list[Update]:
        """Add one raw sample; return the updates it completes (usually none or one).

        Samples must come in time order; one not later than the previous is ignored.
        """
        if self._prev is None:
            self._t0 = t
            self._prev = (t, x, y)
            return self._grid(x, y)
        tp, xp, yp = self._prev
        if not t > tp:
            return []
        updates: list[Update] = []
        step = 1.0 / self.rate
        # grid point k sits at t0 + k * step, as in np.arange(t0, t_end + 1e-9, step)
        while True:
            g = self._t0 + self._n_grid * step
            if g > t + 1e-9:
                break
            frac = (g - tp) / (t - tp)
            if frac >= 1.0:
                gx, gy = x, y
            else:
                gx, gy = xp + frac * (x - xp), yp + frac * (y - yp)
            updates += self._grid(gx, gy)
        self._prev = (t, x, y)
        return updates

    def push_many(self, samples: Iterable[tuple[float, float, float]]) -> list[Update]:
        """Push samples in order; return every update."""
        out: list[Update] = []
        for t, x, y in samples:
            out += self.push(t, x, y)
        return out

    def _grid(self, x: float, y: float) -> list[Update]:
        i = self._n_grid % self._size
        self._ring[i] = (x, y)
        self._ring[i + self._size] = (x, y)
        self._n_grid += 1
        n = self._n_grid
        if n < self._size or (n - self._size) % self.hop_steps:
            return []
        return [self._update()]

    def _counts(self) -> bool:
        """Whether the current active window counts for the posterior: it shares no step with
        the last window counted (the first always counts)."""
        last = self._last_counted
        if last is not None and self._n_grid - last < self.window:
            return False
        self._last_counted = self._n_grid
        return True

    def current_window(self) -> np.ndarray:
        """Movement of the last ``window`` steps, ``(1, window, 2)`` float32 px."""
        start = self._n_grid % self._size
        pos = self._ring[start:start + self._size]  # (window + 1, 2), oldest first
        return np.diff(pos, axis=0).astype(np.float32)[None]

    def _update(self) -> Update:
        began = time.perf_counter()
        X = self.current_window()
        idle = not bool(self._active(X, self.config.idle_threshold)[0])
        p: float | None = None
        if idle:
            self.n_idle += 1
        else:
            p = float(self._proba(X)[0, 1])
            if self._n_active == len(self._p):
                self._p = np.concatenate([self._p, np.zeros_like(self._p)])
            self._p[self._n_active] = p
            self._n_active += 1
            if self._sequential is not None and self._counts():
                z = float(self._log_odds(np.array([p]))[0])
                self._posterior = self._sequential.update(z)
        n = self._n_active
        if self._posterior is not None:
            total = self._posterior.p_left
        else:
            total = self._mean_rule(self._p[:n]) if n else 0.5
        decision = None
        if n:
            decision = CLASS_NAMES[1] if total >= 0.5 else CLASS_NAMES[0]
        post = self._posterior
        return Update(
            t=(self._n_grid - 1) / self.rate,
            idle=idle,
            p_left=p,
            decision=decision,
            p_decision=max(total, 1.0 - total),
            p_left_total=total,
            decided=None if post is None else post.decided,
            seconds_to_decision=None if post is None else post.seconds_to_decision,
            n_windows=n,
            n_idle=self.n_idle,
            latency_ms=(time.perf_counter() - began) * 1e3,
        )


# --------------------------------------------------------------------------- sources


def replay_samples(
    path: str | os.PathLike,
    speed: float = DEFAULT_SPEED,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[float, float, float]]:
    """Samples ``(t, x, y)`` of a recording, paced ``speed`` times real time (0 = no pacing).

    The file is read (and validated) at once; ``t`` starts at 0. ``clock`` and ``sleep`` are
    the time source (a test passes a fake one).

    Raises:
        DataError: unreadable recording or a negative speed.
    """
    if not (speed >= 0 and math.isfinite(speed)):
        raise DataError(f"speed must be >= 0 (0 = as fast as possible), got {speed:g}")
    rec = read_recording(path)

    def paced() -> Iterator[tuple[float, float, float]]:
        t0 = float(rec.t[0])
        wall0 = clock()
        for t, (x, y) in zip(rec.t.tolist(), rec.xy.tolist(), strict=True):
            rel = t - t0
            if seconds is not None and rel > seconds + 1e-9:
                return
            if stop is not None and stop.is_set():
                return
            if speed > 0:
                wait = wall0 + rel / speed - clock()
                if wait > 0:
                    sleep(wait)
            yield rel, x, y

    return paced()


def live_samples(
    rate: float,
    seconds: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[tuple[float, float, float]]:
    """The real cursor polled at ``rate`` Hz: ``(t, x, y)`` samples.

    The pointer is checked at once; its display connection is closed when the iteration ends.

    Raises:
        PointerError: no display or pointer reachable (at once), or lost while polling.
    """
    from deepmouse.pointer import pointer, poll

    position = pointer()

    def polled() -> Iterator[tuple[float, float, float]]:
        try:
            yield from poll(position, rate, seconds, stop)
        finally:
            position.close()

    return polled()


def model_path(path: str | os.PathLike) -> Path:
    """A model file, or the ``model.safetensors`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        inner = path / "model.safetensors"
        if not inner.is_file():
            raise DataError(f"{path}: a folder without model.safetensors (not a run folder)")
        return inner
    return path


# --------------------------------------------------------------------------- front end


SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_SECONDS = 60
"""The live view's sparkline shows the posterior over this many seconds of the stream."""
SPARK_MARK_SECONDS = 2.0
"""Seconds one mark of the sparkline stands for: 30 marks a minute fit an 80-column terminal."""


def sparkline(history: Sequence[tuple[float, float]], now: float,
              seconds: float = SPARK_SECONDS, per_mark: float = SPARK_MARK_SECONDS) -> str:
    """P(left) over the last ``seconds`` as a line of block marks, oldest first.

    Args:
        history: ``(t, p_left_total)`` pairs in time order.
        now: the time of the latest update; the line ends there.
        seconds: how far back the line reaches.
        per_mark: seconds one mark stands for.

    Returns:
        Up to ``seconds / per_mark`` characters: ``▁`` for P(left) 0 (right hand) up to ``█``
        for 1 (left hand), a space where no update fell. Each mark shows the last update of its
        slot of time.
    """
    n_marks = int(round(seconds / per_mark))
    marks = [" "] * n_marks
    top = len(SPARK_CHARS) - 1
    for t, p in history:
        slot = n_marks - 1 - int(math.floor((now - t) / per_mark))
        if 0 <= slot < n_marks:
            marks[slot] = SPARK_CHARS[min(top, int(p * len(SPARK_CHARS)))]
    start = next((i for i, mark in enumerate(marks) if mark != " "), n_marks)
    return "".join(marks[start:])


def _render(update: Update | None, predictor: StreamingPredictor, source: str,
            history: Sequence[tuple[float, float]] = ()) -> object:
    from rich.panel import Panel
    from rich.table import Table

    cfg = predictor.config
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    if update is None:
        grid.add_row("window", f"filling the first window: {predictor.filled:.0%} of "
                     f"{cfg.seconds:g} s")
    else:
        if update.idle:
            current = "[dim]idle (not moving enough: not guessed)[/]"
        else:
            p = update.p_left or 0.0
            bar = "█" * int(round(p * 20))
            current = f"P(left) {p:.2f}  [cyan]{bar:<20}[/]  P(right) {1 - p:.2f}"
        grid.add_row("time", f"{update.t:.1f} s")
        grid.add_row("window", current)
        grid.add_row("decision", _decision_text(update, predictor))
        if history:
            grid.add_row("last minute", f"right [magenta]{sparkline(history, update.t)}[/] left")
        grid.add_row("idle", f"{update.n_idle} window(s) skipped")
        grid.add_row("latency", f"{update.latency_ms:.2f} ms per update")
    title = (f"deepmouse live: {source} (window {cfg.seconds:g} s at {cfg.rate:g} Hz, "
             f"update every {predictor.hop:g} s)")
    return Panel(grid, title=title, title_align="left")


def _decision_text(update: Update, predictor: StreamingPredictor) -> str:
    """The decision line: undecided until the threshold, then the hand and what it took."""
    if update.decision is None:
        return "[dim]no active window yet[/]"
    if predictor.decision_model is None:
        return (f"[yellow]{update.decision.upper()} hand[/] more likely "
                f"({update.p_decision:.0%}, mean of {update.n_windows} window(s); this model "
                f"file has no decision constants: retrain it to get decisions)")
    if update.decided is None:
        return (f"[yellow]undecided[/]: {update.decision} hand at {update.p_decision:.0%}, "
                f"deciding at {predictor.decision_model.threshold:.0%}")
    return (f"[green]{update.decided.upper()} hand[/], P = {update.p_decision:.1%} after "
            f"{update.seconds_to_decision:.1f} s of movement")


def _one_thread() -> None:
    """One intra-op thread: a single small window is fastest (and steadiest) on one core."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(1)


def run_live(
    model: str | os.PathLike,
    seconds: float | None = None,
    replay: str | os.PathLike | None = None,
    speed: float = DEFAULT_SPEED,
    hop: float = DEFAULT_HOP,
    json_lines: bool = False,
    out: IO[str] | None = None,
    threshold: float | None = None,
) -> Update | None:
    """Run the live prediction (cursor or ``replay`` file) until done; return the last update.

    Args:
        model: model file or run folder.
        seconds: stop after this many seconds of samples (``None``: until Ctrl-C / SIGTERM,
            or the end of the replayed file).
        replay: recording to replay instead of the live cursor.
        speed: replay speed (1 = real time, 0 = as fast as possible).
        hop: seconds between updates.
        json_lines: write one JSON object per update to ``out`` instead of the Rich display.
        out: text stream for JSON lines (default ``sys.stdout``).
        threshold: P(hand) at which to decide (default: the model's, 0.95).

    Raises:
        DataError: bad model file (``ModelFileError``), bad recording, bad options, or no
            pointer (``PointerError``).
    """
    from deepmouse.modelfile import load_model
    from deepmouse.pointer import StopSignals

    if seconds is not None and not seconds > 0:
        raise DataError(f"seconds must be positive, got {seconds:g}")
    if not (speed >= 0 and math.isfinite(speed)):
        raise DataError(f"speed must be >= 0 (0 = as fast as possible), got {speed:g}")
    if threshold is not None and not 0.5 < threshold < 1:
        raise DataError(f"threshold must be in (0.5, 1), got {threshold:g}")
    hand_model = load_model(model_path(model))
    _one_thread()
    predictor = StreamingPredictor(hand_model, hop=hop, threshold=threshold)
    stop = threading.Event()
    if replay is not None:
        samples = replay_samples(replay, speed=speed, seconds=seconds, stop=stop)
        speed_text = "as fast as possible" if speed == 0 else f"x{speed:g}"
        source = f"replay of {Path(replay).name} ({speed_text})"
    else:
        samples = live_samples(predictor.rate, seconds=seconds, stop=stop)
        source = "cursor"
    out = out or sys.stdout
    last: Update | None = None
    with StopSignals(stop):
        if json_lines:
            try:
                for t, x, y in samples:
                    for update in predictor.push(t, x, y):
                        last = update
                        out.write(dumps_strict(update.to_dict()) + "\n")
                        out.flush()
            except KeyboardInterrupt:
                pass
            except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, out.fileno())  # no second error when Python flushes at exit
                os.close(devnull)
            return last

        from rich.console import Console
        from rich.live import Live

        console = Console(highlight=False)
        with Live(_render(None, predictor, source), console=console,
                  refresh_per_second=8, transient=False) as display:
            shown = 0.0
            history: collections.deque[tuple[float, float]] = collections.deque()
            try:
                for t, x, y in samples:
                    updates = predictor.push(t, x, y)
                    if updates:
                        last = updates[-1]
                        history.extend((u.t, u.p_left_total) for u in updates)
                        while history and history[0][0] < last.t - SPARK_SECONDS:
                            history.popleft()
                        display.update(_render(last, predictor, source, history))
                    elif last is None and t - shown >= 0.1:
                        shown = t
                        display.update(_render(None, predictor, source))
            except KeyboardInterrupt:
                pass
        if last is None:
            console.print(f"stopped before the first window was full "
                          f"({predictor.config.seconds:g} s of samples needed)")
        elif last.decision is None:
            console.print("no active window: move the pointer to get a decision")
        elif last.decided is None:
            console.print(f"undecided: {last.decision} hand more likely "
                          f"({last.p_decision:.0%}) over {last.n_windows} active window(s), "
                          f"{last.n_idle} idle")
        else:
            console.print(f"decision: {last.decided} hand, P = {last.p_decision:.1%} after "
                          f"{last.seconds_to_decision:.1f} s of movement, {last.n_windows} "
                          f"active window(s), {last.n_idle} idle")
    return last
