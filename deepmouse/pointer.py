"""The pointer: reading the cursor position and polling it at a fixed rate.

Shared by the recorder (:mod:`deepmouse.record`) and live mode (:mod:`deepmouse.live`).

- :func:`pointer` reads the real cursor through :mod:`pynput` (X11, Windows, macOS), checked to
  work once before it is returned.
- :func:`poll` samples any position function at ``rate`` Hz on a monotonic clock. Sample ``k``
  is due at ``start + k / rate``; the loop sleeps until the next deadline, so small delays never
  accumulate into drift, and when it falls more than one period behind (a stall) the missed
  deadlines are skipped rather than sampled in a burst.
- :class:`StopSignals` turns SIGINT and SIGTERM into a stop event, so a long loop ends cleanly.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from deepmouse.recordings import DataError

MAX_RATE = 1000.0
"""Highest polling rate accepted (Hz)."""

Position = Callable[[], tuple[float, float]]
"""A function returning the current pointer position ``(x, y)`` in screen pixels."""


class PointerError(DataError):
    """No display or pointer can be reached (no X server, DISPLAY unset, no permission...)."""


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
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[float, float, float]]:
    """Poll ``position`` at ``rate`` Hz on a monotonic clock; yield ``(t, x, y)``.

    ``t`` is seconds since the first sample (taken just before reading the position). Sample
    ``k`` is due at ``start + k / rate``; deadlines missed by more than a period are skipped, so
    the schedule never drifts and never bursts. Stops after ``seconds`` (if given) or when
    ``stop`` is set. ``clock`` and ``sleep`` are the time source (a test passes a fake one).

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
            sleep(deadline - now)
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
