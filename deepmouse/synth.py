"""Synthetic cursor recordings from a simple kinematic model of a hand (no real hands needed).

This is the built-in dataset behind ``deepmouse demo`` and the fast tests. It is *synthetic*:
it exercises the whole pipeline with data that looks like cursor polling, but says nothing
about how well a model tells real hands apart (see ``docs/synthetic.md``).

**Activity.** A recording alternates *idle pauses* (cursor perfectly still; log-normal
length, 0.3-5 s) with *bouts* of one or more *strokes*. Strokes in a bout are chained: the
next one starts when the previous one is 60-105% done, so their velocities sometimes overlap
(a fast re-aim) and sometimes leave a short stop. About 20-40% of the samples are idle.

**Strokes.** A stroke moves the cursor by a straight *chord* of amplitude 20-400 px
(log-uniform) in a duration that grows with the amplitude as in Fitts' law (0.15-0.8 s,
with noise). Progress along the chord follows the minimum-jerk profile
``m(s) = 10 s^3 - 15 s^4 + 6 s^5`` (``s`` = elapsed fraction of the stroke), which gives the
smooth bell-shaped speed of a real reach. The path bows sideways by ``b * A * 4 m (1 - m)``
(a parabolic arc; ``b`` is the bow at mid-stroke as a fraction of the amplitude ``A``).
Positions of overlapping strokes add up.

**The two hands.** A hand on a touchpad (or a mouse) pivots on the wrist, which sits below
the fingers and towards the hand's own side: lower right for the right hand, lower left for
the left. Rotating about that pivot favours strokes across the pivot (for the right hand
the ``/`` diagonal, lower left <-> upper right, about 35 degrees above the horizontal) and
bows strokes away from it (for the right hand towards the upper left, so the centripetal
acceleration points to the lower right). The left hand is the exact mirror image: the
whole trace is generated in the right hand's frame and mirrored left <-> right, so every
other statistic (speed, amplitude, timing, idle time, screen coverage) has the same
distribution for both hands. Each stroke draws its own direction and bow with a lot of
noise (most directions are close to uniform, the bow's spread exceeds its mean), and each
recording draws a small style offset, so one 2-second window is only weakly informative;
the evidence adds up over many strokes.

**Sampling.** The continuous trace is read at polling times about ``1 / rate`` apart with
normal jitter (sd 1 ms, less at high rates), plus delay spikes (1% of intervals are
10-50 ms longer: 20-60 ms at 100 Hz). Positions are rounded to whole pixels and clipped to
the screen. Times are rounded to 0.1 ms, as ``write_recording`` stores them, so a
recording read back equals the one generated.

Everything is drawn from ``numpy.random.default_rng``: the same seed gives the same
recording, and files byte for byte.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepmouse.atomic import write_atomic
from deepmouse.jsonio import dumps_strict
from deepmouse.recordings import (
    CLASS_NAMES,
    DEFAULT_RATE,
    DEFAULT_SCREEN,
    RECORDING_SUFFIXES,
    write_recording,
)

__all__ = ["synthesize_dataset", "synthesize_recording"]



@dataclass(frozen=True)
class _Model:
    """Parameters of the kinematic model (right-hand frame; screen y grows downwards)."""

    # activity
    first_idle: tuple[float, float] = (0.2, 1.5)  # s, uniform
    idle_median: float = 0.5  # s, log-normal
    idle_sigma: float = 0.6
    idle_range: tuple[float, float] = (0.3, 5.0)  # s
    chain_p: float = 0.2  # strokes per bout: geometric(chain_p), mean 1 / chain_p
    chain_max: int = 15
    chain_overlap: tuple[float, float] = (0.6, 1.05)  # next start, fraction of the duration
    # strokes
    amplitude: tuple[float, float] = (20.0, 400.0)  # px, log-uniform
    fitts: tuple[float, float, float] = (0.05, 0.10, 15.0)  # D = a + b log2(1 + A / w)
    duration_noise: float = 0.18  # log-normal sigma
    duration: tuple[float, float] = (0.15, 0.8)  # s
    margin: float = 8.0  # px kept free at the screen edge when planning
    # hand-specific geometry (right hand; the left hand is its mirror image)
    axis_deg: float = 35.0  # preferred stroke axis, degrees above the horizontal ("/")
    axis_p: float = 0.40  # share of strokes drawn around the preferred axis
    axis_kappa: float = 1.2  # von Mises concentration of those (on the doubled angle)
    bow_mean: float = 0.06  # mean bow away from the pivot, fraction of the amplitude
    bow_sd: float = 0.13  # per-stroke spread of the bow
    # per-recording style
    style_axis_sd_deg: float = 6.0
    style_bow_scale: tuple[float, float] = (0.8, 1.2)
    # sampling
    jitter_sd: float = 0.001  # s (capped at 10% of the period)
    spike_p: float = 0.01
    spike_extra: tuple[float, float] = (0.010, 0.050)  # s added to a spiked interval


_MODEL = _Model()


def _check_hand(hand: str) -> int:
    if hand not in CLASS_NAMES:
        raise ValueError(f"hand must be 'left' or 'right', got {hand!r}")
    return CLASS_NAMES.index(hand)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _is_real(value: object) -> bool:
    """A finite real number (not a bool)."""
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _check_rate(rate: float) -> float:
    if not (_is_real(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of samples per second, got {rate!r}")
    return float(rate)


def _check_screen(screen: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in screen)
    except (TypeError, ValueError):
        raise ValueError(f"screen must be (width, height) in pixels, got {screen!r}") from None
    if w < 100 or h < 100:
        raise ValueError(f"screen must be at least 100x100 pixels, got {w}x{h}")
    return w, h


def _sample_times(rng: np.random.Generator, seconds: float, rate: float) -> np.ndarray:
    """Polling times from 0 to at most ``seconds``, shape ``(n_samples,)``, strictly increasing."""
    m = _MODEL
    period = 1.0 / rate
    jitter = min(m.jitter_sd, 0.1 * period)
    chunks: list[np.ndarray] = []
    total = 0.0
    n = int(math.ceil(seconds * rate * 1.02)) + 2
    while total <= seconds:
        steps = period + rng.normal(0.0, jitter, n)
        spikes = rng.random(n) < m.spike_p
        steps[spikes] += rng.uniform(*m.spike_extra, int(spikes.sum()))
        np.maximum(steps, 0.2 * period, out=steps)
        chunks.append(steps)
        total += float(steps.sum())
        n = int(math.ceil((seconds - total) * rate * 1.05)) + 16
    t = np.concatenate(([0.0], np.cumsum(np.concatenate(chunks))))
    t = np.round(t[t <= seconds], 4)
    # rounding to 0.1 ms cannot merge samples >= 0.2 ms apart, but make sure at any rate
    keep = np.concatenate(([True], np.diff(t) > 0))
    return t[keep]


def _room(pos: np.ndarray, u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """How far one can go from ``pos`` along the unit vector ``u`` and stay in [lo, hi]."""
    room = math.inf
    for k in range(2):
        if u[k] > 1e-9:
            room = min(room, (hi[k] - pos[k]) / u[k])
        elif u[k] < -1e-9:
            room = min(room, (lo[k] - pos[k]) / u[k])
    return max(room, 0.0)


@dataclass
class _Plan:
    """Strokes of one recording (right-hand frame).

    Attributes:
        origin: starting position, shape ``(2,)``.
        start: stroke start times in seconds, shape ``(n_strokes,)``.
        duration: stroke durations in seconds, shape ``(n_strokes,)``.
        chord: displacement of each stroke, shape ``(n_strokes, 2)``.
        lateral: sideways offset at mid-stroke (the bow), shape ``(n_strokes, 2)``.
    """

    origin: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    chord: np.ndarray
    lateral: np.ndarray


def _plan_strokes(rng: np.random.Generator, seconds: float, screen: tuple[int, int]) -> _Plan:
    """Draw the idle pauses and strokes of one recording in the right hand's frame."""
    m = _MODEL
    w, h = screen
    lo = np.array([m.margin, m.margin])
    hi = np.array([w - 1 - m.margin, h - 1 - m.margin])
    # per-recording style: small offset of the preferred axis, scale of the bow
    axis = -math.radians(m.axis_deg + rng.normal(0.0, m.style_axis_sd_deg))  # y is down
    bow_mean = m.bow_mean * rng.uniform(*m.style_bow_scale)
    away = np.array([math.sin(axis), -math.cos(axis)])  # normal to the axis, up and left
    log_amp = (math.log(m.amplitude[0]), math.log(m.amplitude[1]))
    a_fitts, b_fitts, w_fitts = m.fitts

    pos = rng.uniform(lo, hi)
    origin = pos.copy()
    starts: list[float] = []
    durations: list[float] = []
    chords: list[np.ndarray] = []
    laterals: list[np.ndarray] = []
    clock = rng.uniform(*m.first_idle)
    while clock < seconds:
        n_strokes = min(int(rng.geometric(m.chain_p)), m.chain_max)
        end = clock
        for _ in range(n_strokes):
            amp = math.exp(rng.uniform(*log_amp))
            if rng.random() < m.axis_p:  # axial von Mises: either way along the axis
                theta = axis + 0.5 * rng.vonmises(0.0, m.axis_kappa) + math.pi * rng.integers(2)
            else:
                theta = rng.uniform(-math.pi, math.pi)
            u = np.array([math.cos(theta), math.sin(theta)])
            room = _room(pos, u, lo, hi)
            if room < amp:  # would leave the screen: go back along the same axis instead
                back = _room(pos, -u, lo, hi)
                if back > room:
                    u, room = -u, back
                amp = min(amp, room * rng.uniform(0.6, 1.0))
                if amp < m.amplitude[0]:  # stuck in a corner: head for the middle
                    target = rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))
                    vec = target - pos
                    amp = max(float(np.hypot(*vec)), 1.0)
                    amp = min(amp, m.amplitude[1])
                    u = vec / max(float(np.hypot(*vec)), 1e-9)
            dur = (a_fitts + b_fitts * math.log2(1.0 + amp / w_fitts)) * math.exp(
                rng.normal(0.0, m.duration_noise)
            )
            dur = min(max(dur, m.duration[0]), m.duration[1])
            normal = np.array([-u[1], u[0]])
            bow = bow_mean * float(normal @ away) + rng.normal(0.0, m.bow_sd)
            starts.append(clock)
            durations.append(dur)
            chords.append(amp * u)
            laterals.append(bow * amp * normal)
            pos = pos + amp * u
            end = clock + dur
            clock += dur * rng.uniform(*m.chain_overlap)
        idle = m.idle_median * math.exp(rng.normal(0.0, m.idle_sigma))
        clock = end + min(max(idle, m.idle_range[0]), m.idle_range[1])
    k = len(starts)
    return _Plan(
        origin=origin,
        start=np.asarray(starts, dtype=np.float64),
        duration=np.asarray(durations, dtype=np.float64),
        chord=np.asarray(chords, dtype=np.float64).reshape(k, 2),
        lateral=np.asarray(laterals, dtype=np.float64).reshape(k, 2),
    )


def _render(t: np.ndarray, plan: _Plan) -> np.ndarray:
    """Cursor positions of ``plan`` at times ``t`` (shape ``(n,)``) -> shape ``(n, 2)``."""
    n = len(t)
    xy = np.zeros((n, 2))
    done = np.zeros((n + 1, 2))  # chords of finished strokes, added from their end onwards
    i0s = np.searchsorted(t, plan.start, side="left")
    i1s = np.searchsorted(t, plan.start + plan.duration, side="left")
    for k in range(len(plan.start)):
        i0, i1 = i0s[k], i1s[k]
        if i1 > i0:
            s = (t[i0:i1] - plan.start[k]) / plan.duration[k]
            p = s * s * s * (10.0 + s * (-15.0 + 6.0 * s))  # minimum jerk, 0 -> 1
            bow = 4.0 * p * (1.0 - p)
            xy[i0:i1] += p[:, None] * plan.chord[k] + bow[:, None] * plan.lateral[k]
        done[i1] += plan.chord[k]
    xy += np.cumsum(done[:n], axis=0) + plan.origin
    return xy


def synthesize_recording(
    hand: str,
    seconds: float,
    seed: int,
    rate: float = DEFAULT_RATE,
    screen: tuple[int, int] = DEFAULT_SCREEN,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one synthetic recording of one hand.

    Args:
        hand: ``'left'`` or ``'right'``.
        seconds: length of the recording in seconds (the last sample is at most this late).
        seed: non-negative integer; the same (hand, seconds, seed, rate, screen) gives the
            same recording. Both hands with the same seed are drawn independently.
        rate: nominal polling rate in samples per second.
        screen: (width, height) in pixels; positions lie in ``[0, width-1] x [0, height-1]``.

    Returns:
        ``(t, xy)``: ``t`` seconds, strictly increasing from 0, shape ``(n_samples,)``;
        ``xy`` integer-valued pixel positions (float64), shape ``(n_samples, 2)``.

    Raises:
        ValueError: unknown hand, ``seconds`` or ``rate`` not positive, a negative seed,
            a bad screen, or too short a recording for two samples.
    """
    label = _check_hand(hand)
    seed = _check_seed(seed)
    rate = _check_rate(rate)
    w, h = _check_screen(screen)
    if not _is_real(seconds):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if seconds * rate < 2:
        raise ValueError(f"{seconds} s at {rate} Hz is too short: need at least 2 samples")
    rng_time, rng_motion = np.random.default_rng([seed, label]).spawn(2)
    t = _sample_times(rng_time, float(seconds), rate)
    plan = _plan_strokes(rng_motion, float(seconds), (w, h))
    xy = _render(t, plan)
    if hand == "left":  # the mirror image of a right hand
        xy[:, 0] = (w - 1) - xy[:, 0]
    xy = np.rint(xy)
    np.clip(xy[:, 0], 0, w - 1, out=xy[:, 0])
    np.clip(xy[:, 1], 0, h - 1, out=xy[:, 1])
    xy += 0.0  # no negative zeros in the files
    return t, xy


def _has_recordings(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES for p in folder.iterdir()
    )


DEFAULT_MINUTES = 20.0
"""Minutes of a synthetic dataset, split between the hands."""
DEFAULT_SESSIONS = 1
"""Recording sessions per hand of a synthetic dataset."""


def synthesize_dataset(
    dest: str | os.PathLike,
    minutes: float = DEFAULT_MINUTES,
    seed: int = 0,
    sessions: int = DEFAULT_SESSIONS,
    rate: float = DEFAULT_RATE,
) -> Path:
    """Write a synthetic dataset folder.

    Layout: ``dest/right/session<k>.csv`` and ``dest/left/session<k>.csv`` for
    ``k = 1..sessions``, plus ``dest/dataset.json`` (``synthetic: true``, the generator, seed,
    minutes, sessions, rate, screen, notes, and the seed of every file, so that
    ``synthesize_recording(hand, seconds, file_seed)`` reproduces it).

    Args:
        dest: the dataset folder (created if missing).
        minutes: TOTAL recorded time, split equally between the two hands, then between
            the sessions of a hand.
        seed: non-negative integer; every session of every hand gets its own seed derived
            from it (``numpy.random.SeedSequence(seed).spawn``).
        sessions: recordings per hand.
        rate: nominal polling rate in samples per second.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``minutes <= 0``, ``sessions < 1``, ``rate <= 0``, a negative seed, or
            ``dest`` already holds recordings in ``left/`` or ``right/``.
    """
    if not _is_real(minutes):
        raise ValueError(f"minutes must be a positive number, got {minutes!r}")
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if isinstance(sessions, bool) or not isinstance(sessions, int | np.integer) or sessions < 1:
        raise ValueError(f"sessions must be an integer >= 1, got {sessions!r}")
    rate = _check_rate(rate)
    seed = _check_seed(seed)
    sessions = int(sessions)
    seconds = float(minutes) * 60.0 / 2.0 / sessions
    if seconds * rate < 2:
        raise ValueError(
            f"{minutes} minute(s) over 2 hands x {sessions} session(s) at {rate} Hz leaves "
            f"{seconds:g} s per recording: too short"
        )
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest}: exists and is not a folder")
    for name in CLASS_NAMES:
        if _has_recordings(dest / name):
            raise ValueError(
                f"{dest}: already holds recordings in {name}/; choose an empty or new folder"
            )

    screen = DEFAULT_SCREEN
    children = dict(zip(CLASS_NAMES, np.random.SeedSequence(seed).spawn(2), strict=True))
    files: dict[str, dict] = {}
    for hand in CLASS_NAMES:
        for k, child in enumerate(children[hand].spawn(sessions), start=1):
            file_seed = int(child.generate_state(1, dtype=np.uint64)[0])
            t, xy = synthesize_recording(hand, seconds, file_seed, rate=rate, screen=screen)
            rel = f"{hand}/session{k}.csv"
            write_recording(dest / rel, t, xy)
            files[rel] = {"seed": file_seed, "seconds": seconds, "samples": int(len(t))}

    info = {
        "synthetic": True,
        "generator": "deepmouse.synth",
        "seed": seed,
        "minutes": float(minutes),
        "sessions": sessions,
        "rate": rate,
        "screen": [screen[0], screen[1]],
        "notes": (
            "Synthetic cursor traces from a kinematic model (minimum-jerk strokes, idle "
            "pauses, jittered ~100 Hz polling). The hands differ only by mirrored stroke "
            "geometry (preferred diagonal and bow direction, from a wrist pivot on the "
            "hand's own side); not real hands. See docs/synthetic.md."
        ),
        "files": files,
    }
    write_atomic(dest / "dataset.json", dumps_strict(info, indent=2) + "\n")
    return dest
