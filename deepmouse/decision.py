"""The decision: which hand, and how sure, from the log-odds of many windows.

One window is weak evidence; many windows are strong evidence, but not independent evidence.
This module turns the left-hand log-odds ``z`` of a stream of active windows into a posterior
P(left) with a small hierarchical model of those log-odds:

    z = c + h * mu + b + e    c: the model's overall lean (a calibration intercept)
                              h = +1 (left) or -1 (right)
                              b ~ N(0, tau2)    the offset of a session: a model that reads a
                                                session as a bit left-ish does so all along
                              e ~ N(0, sigma2)  the window's own noise

Windows that overlap share movement: a window can count with weight ``w`` = the fraction of its
steps that are new (1 for back-to-back windows), as if its noise variance were ``sigma2 / w``.
``live`` and ``evaluate`` count windows back to back, as the constants are fitted: weighted
overlapping 2-s windows decided no sooner on held-out sessions, and the default's touchpad
decisions fell below the threshold (``benchmarks/RESULTS.md``).
Integrating out ``b``, the evidence of ``n_eff = sum(w)`` windows with weighted mean ``m`` is

    log-odds(left) = 2 * mu * (m - c) / (tau2 + sigma2 / n_eff)

It grows as windows agree, but never beyond ``2 * mu * (m - c) / tau2``: a session offset cannot be
averaged away, so a session read as slightly left-ish never becomes 99.99% sure.

The hand may change. Windows come in *segments* of one hand (each with its own offset), and a
new segment starts with probability ``switch_rate`` per second of movement; its hand is drawn
afresh, so the hand actually changes at half that rate. The posterior is a
Bayesian online change-point filter over the segments' lengths (Adams & MacKay, 2007), each
length scored in closed form from its sufficient statistics; P(left) mixes the segments'
posteriors. It follows a switch of hand instead of staying stuck on the first one.

The constants ``mu``, ``sigma2`` and ``tau2`` are fitted (:func:`fit_decision_model`) on
windows held out from training, grouped by recording session, never on the windows scored.
:class:`SequentialDecision` is the one implementation, shared by ``evaluate`` and ``live``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_THRESHOLD = 0.95
"""P(hand) at which the decision is made."""
DEFAULT_SWITCH_RATE = 1.0 / 300.0
"""Prior rate of a new segment: once per 5 minutes of movement (a change of hand once per 10).
Higher rates (1/120 to 1/15 per s) follow a change of hand a few seconds sooner, but chosen per
mouse fold on the other folds they did not agree, and the ensemble fell below 95% right
(``benchmarks/sequential.py --switch-study``, RESULTS.md); so it stays."""
MAX_ABS_LOG_ODDS = 100.0
"""Window log-odds are clipped to this: beyond it a window would outweigh any evidence."""
MAX_SEGMENTS = 400
"""Segment lengths the filter keeps (the least likely are dropped beyond this)."""
TAU2_FLOOR = 0.25
"""Smallest session-offset variance, as a fraction of ``mu ** 2``: one held-out session per hand
cannot measure the spread of session offsets (its estimate would be zero, and the posterior
overconfident). A family can set its own (``Family.session_spread``); this default is what
``benchmarks/sequential.py`` chose, on held-out mouse sessions, for the default model."""


@dataclass(frozen=True)
class DecisionModel:
    """The constants of the hierarchical model (see the module doc).

    Attributes:
        mu: mean log-odds of a window toward its true hand (> 0 for a model that learned).
        bias: the model's overall lean toward the left hand on held-out sessions (subtracted
            from every window's log-odds).
        sigma2: variance of a window's log-odds around its session's mean.
        tau2: variance of a session's mean log-odds around ``±mu``.
        switch_rate: prior rate of a new segment (a new draw of the hand), per second of
            movement.
        threshold: P(hand) at which a decision is made.
    """

    mu: float
    sigma2: float
    tau2: float
    bias: float = 0.0
    switch_rate: float = DEFAULT_SWITCH_RATE
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("mu", "sigma2", "tau2", "bias", "switch_rate", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, numbers.Real)
                                               and math.isfinite(value)):
                raise ValueError(f"decision {name} must be a finite number, got {value!r}")
        if self.mu <= 0:
            raise ValueError(f"decision mu must be > 0, got {self.mu}")
        if self.sigma2 <= 0 or self.tau2 <= 0:
            raise ValueError("decision sigma2 and tau2 must be > 0")
        if not 0 <= self.switch_rate < 1:
            raise ValueError(f"decision switch_rate must be in [0, 1), got {self.switch_rate}")
        if not 0.5 < self.threshold < 1:
            raise ValueError(f"decision threshold must be in (0.5, 1), got {self.threshold}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_options(self, threshold: float | None = None,
                     switch_rate: float | None = None) -> DecisionModel:
        """A copy with another threshold and/or switch rate (``None``: keep)."""
        return DecisionModel(self.mu, self.sigma2, self.tau2, self.bias,
                             self.switch_rate if switch_rate is None else switch_rate,
                             self.threshold if threshold is None else threshold)

    def window_probability(self, z: np.ndarray) -> np.ndarray:
        """Calibrated P(left) of single windows ``(n,)`` from their log-odds ``z`` ``(n,)``: the
        posterior after one window, a temperature fitted on held-out sessions."""
        scaled = (2.0 * self.mu * (np.asarray(z, dtype=np.float64) - self.bias)
                  / (self.tau2 + self.sigma2))
        return 1.0 / (1.0 + np.exp(-np.clip(scaled, -60, 60)))

    def log_odds(self, mean: float, n_eff: float) -> float:
        """Posterior log-odds of the left hand for one segment: ``n_eff`` windows, mean ``mean``
        (no change of hand)."""
        if n_eff <= 0:
            return 0.0
        return 2.0 * self.mu * (mean - self.bias) / (self.tau2 + self.sigma2 / n_eff)


def fit_decision_model(
    z: np.ndarray,
    y: np.ndarray,
    session: np.ndarray,
    switch_rate: float = DEFAULT_SWITCH_RATE,
    threshold: float = DEFAULT_THRESHOLD,
    tau2_floor: float = TAU2_FLOOR,
) -> DecisionModel:
    """The constants from held-out, non-overlapping windows, by the method of moments.

    Args:
        z: left-hand log-odds of each window ``(n,)``.
        y: true hand of each window ``(n,)``, 1 = left, 0 = right.
        session: recording of each window ``(n,)``: one hand, one offset.

    With ``L`` and ``R`` the mean of the session means of each hand: ``bias = (L + R) / 2``,
    ``mu = (L - R) / 2``; ``sigma2`` is the pooled variance within sessions; ``tau2`` the
    variance of the sessions' means around ``bias ± mu`` beyond what ``sigma2`` explains (two
    degrees of freedom spent on ``bias`` and ``mu``), at least ``tau2_floor * mu ** 2``.

    Raises:
        ValueError: a hand without sessions, sessions of fewer than two windows, or a model
            without any signal (``mu <= 0``: its log-odds do not point toward the true hand).
    """
    z, y, session = (np.asarray(a) for a in (z, y, session))
    if not np.isfinite(np.asarray(z, dtype=np.float64)).all():
        raise ValueError("fitting the decision needs finite log-odds (got NaN or infinity)")
    means: dict[int, list[float]] = {0: [], 1: []}
    sizes, within, dof = [], 0.0, 0
    for s in np.unique(session):
        zs = z[session == s].astype(np.float64)
        means[int(y[session == s][0])].append(float(zs.mean()))
        sizes.append(len(zs))
        within += float(((zs - zs.mean()) ** 2).sum())
        dof += len(zs) - 1
    if not means[0] or not means[1]:
        raise ValueError("fitting the decision needs held-out sessions of both hands")
    if dof < 1:
        raise ValueError("fitting the decision needs sessions of at least two windows")
    left, right = float(np.mean(means[1])), float(np.mean(means[0]))
    bias, mu = (left + right) / 2, (left - right) / 2
    if not mu > 0:
        raise ValueError(f"the model's log-odds do not point toward the true hand on the "
                         f"held-out windows (left minus right, halved: {mu:.3f})")
    sigma2 = max(within / dof, 1e-6)
    residuals = [m - bias - mu for m in means[1]] + [m - bias + mu for m in means[0]]
    k = len(residuals)
    spread = float(np.sum(np.square(residuals)) / (k - 2)) if k > 2 else 0.0
    tau2 = max(spread - float(np.mean(sigma2 / np.array(sizes, dtype=np.float64))),
               tau2_floor * mu * mu)
    return DecisionModel(mu, sigma2, tau2, bias, switch_rate, threshold)


@dataclass
class Posterior:
    """Where the decision stands after one more window.

    Attributes:
        p_left: P(the hand moving now is the left one | every window so far).
        decided: ``"left"`` or ``"right"`` once P(hand) reaches the threshold, else ``None``.
        seconds: seconds of movement so far.
        seconds_to_decision: seconds of movement it took to decide the current hand: from the
            start of the stream, or from the last moment the other hand was decided; ``None``
            while undecided (a dip below the threshold does not restart the count).
    """

    p_left: float
    decided: str | None
    seconds: float
    seconds_to_decision: float | None


class SequentialDecision:
    """The posterior over a stream of window log-odds, one window at a time.

    Args:
        model: the constants (:func:`fit_decision_model`).
        window_seconds: seconds of movement in one window.
    """

    def __init__(self, model: DecisionModel, window_seconds: float) -> None:
        if not window_seconds > 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds}")
        self.model = model
        self.window_seconds = float(window_seconds)
        self.reset()

    def reset(self) -> None:
        """Forget every window (a new stream)."""
        # per segment length: log-probability and sufficient statistics of its windows, one
        # column each (one array, so an update concatenates and drops once, not per statistic)
        self._log_p = np.zeros(1)
        # rows: sum of weights, sum of w * z, sum of w * z**2, sum of log w (the windows' own
        # variance terms), log p(windows of the segment) (0 for the empty one)
        self._stats = np.zeros((5, 1))
        self.seconds = 0.0
        self._hand: str | None = None  # the hand last decided
        self._held = 0.0  # seconds of movement when it was last decided
        self._took = 0.0  # seconds of movement it took to decide it

    def _log_marginal(self, n, total, sumsq, logw) -> np.ndarray:
        """log p(windows of a segment) with the hand (½ each) and the offset integrated out."""
        m = self.model
        s2, t2 = m.sigma2, m.tau2
        precision = n / s2 + 1.0 / t2
        base = (-0.5 * n * math.log(2 * math.pi * s2) + 0.5 * logw
                - 0.5 * np.log(t2 * precision))
        out = []
        for h in (1.0, -1.0):
            sum_y = (total - h * m.mu * n) / s2
            sq_y = (sumsq - 2 * h * m.mu * total + m.mu * m.mu * n) / s2
            out.append(base - 0.5 * sq_y + sum_y * sum_y / (2 * precision))
        return np.logaddexp(out[0], out[1]) + math.log(0.5)

    def update(self, z: float, weight: float = 1.0) -> Posterior:
        """Add one active window: its left-hand log-odds ``z`` and ``weight`` (the fraction of
        its steps that no earlier window had; 1 for back-to-back windows)."""
        if not math.isfinite(z):
            raise ValueError(f"window log-odds must be finite, got {z}")
        z = min(max(z, -MAX_ABS_LOG_ODDS), MAX_ABS_LOG_ODDS) - self.model.bias
        if not 0 < weight <= 1:
            raise ValueError(f"window weight must be in (0, 1], got {weight}")
        step_seconds = weight * self.window_seconds
        hazard = 1.0 - math.exp(-self.model.switch_rate * step_seconds)
        size = self._stats.shape[1] + 1
        # column 0: a new segment holding this window alone; columns 1...: each segment grown
        stats = np.empty((5, size))
        first = (weight, weight * z, weight * z * z, math.log(weight))
        np.add(self._stats[:4], np.array(first)[:, None], out=stats[:4, 1:])
        # predictive log-likelihood of z for each segment length, and for a new segment
        stats[4, 1:] = self._log_marginal(*stats[:4, 1:])
        pred = stats[4, 1:] - self._stats[4]
        fresh = float(self._log_marginal(*first))
        stats[:, 0] = (*first, fresh)
        log_p = np.empty(size)
        log_p[1:] = self._log_p + pred + (math.log1p(-hazard) if hazard < 1 else -np.inf)
        log_p[0] = float(np.logaddexp.reduce(self._log_p)) + fresh + (
            math.log(hazard) if hazard > 0 else -np.inf)
        if size > MAX_SEGMENTS:  # one too many: drop the least likely segment length
            keep = np.ones(size, dtype=bool)
            keep[np.argmin(log_p)] = False
            log_p, stats = log_p[keep], stats[:, keep]
        log_p -= np.logaddexp.reduce(log_p)
        self._log_p = log_p
        self._stats = stats
        self.seconds += step_seconds
        return self._posterior()

    def segment_log_odds(self) -> np.ndarray:
        """Posterior log-odds of the left hand for each kept segment length."""
        m = self.model
        n, total = self._stats[0], self._stats[1]
        mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
        return 2.0 * m.mu * mean / (m.tau2 + m.sigma2 / np.maximum(n, 1e-12)) * (n > 0)

    def _posterior(self) -> Posterior:
        p_segment = 1.0 / (1.0 + np.exp(-np.clip(self.segment_log_odds(), -60, 60)))
        p_left = min(max(float(np.exp(self._log_p) @ p_segment), 0.0), 1.0)
        threshold = self.model.threshold
        decided = "left" if p_left >= threshold else "right" if 1 - p_left >= threshold else None
        if decided is not None:
            if decided != self._hand:  # a new decision: timed from when the old one was last held
                self._took = self.seconds - self._held
                self._hand = decided
            self._held = self.seconds
        return Posterior(p_left, decided, self.seconds,
                         self._took if decided is not None else None)
