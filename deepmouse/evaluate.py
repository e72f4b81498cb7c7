"""Evaluation: per-window metrics and the decision over time.

Per window: accuracy, binary cross-entropy, confusion matrix and ROC AUC (scikit-learn).

Decision over time: the probabilities of consecutive *active* windows of one recording are
combined by their mean log-odds (:func:`decision_probability`, DeepMouse's way). The decision
after ``T`` seconds of movement uses the ``k = max(1, floor(T / window_seconds))`` windows
completed by then; its accuracy is averaged over every run of ``k`` consecutive active windows
of every recording. A horizon that no recording is long enough for is reported as ``None``.

Sequential decision — what a live user sees (:mod:`deepmouse.decision`): trials start at every
:data:`TRIAL_EVERY_SECONDS` of movement of each recording and run until the posterior reaches
the threshold, :data:`TRIAL_MAX_SECONDS` of movement pass, or the recording ends
(:func:`sequential_metrics`); a change of hand is spliced from the end of one recording and the
start of one of the other hand (:func:`switch_metrics`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score, roc_curve

from deepmouse.decision import DecisionModel, SequentialDecision
from deepmouse.recordings import DataError, Dataset
from deepmouse.windows import WindowSet, all_windows, make_splits

HORIZONS: tuple[int, ...] = (2, 5, 10, 30)
EPS = 1e-7
TRIAL_EVERY_SECONDS = 5.0
"""A sequential trial starts at every 5 s of movement of a recording."""
TRIAL_MAX_SECONDS = 60.0
"""A trial undecided after 60 s of movement counts as undecided."""
SWITCH_BEFORE_SECONDS = 30.0
"""Seconds of movement of the first hand before a spliced change of hand."""
SWITCH_PARTNERS = 3
"""Recordings of the other hand each recording is spliced with (the next ones, in order)."""
CALIBRATION_BINS = 10
ROC_POINTS = 200
"""At most this many points of the ROC curve are kept in the metrics (enough to draw it)."""


def log_odds(p_left: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_left, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def decision_probability(p_left: np.ndarray) -> float:
    """Combine window probabilities ``(n_windows,)`` into one P(left): sigmoid of mean log-odds.

    Mean (not sum) log-odds keeps a confident decision from growing without bound when windows
    are correlated; an empty input gives 0.5 (no evidence).
    """
    if len(p_left) == 0:
        return 0.5
    return float(1.0 / (1.0 + math.exp(-float(np.mean(log_odds(p_left))))))


def windows_for_horizon(seconds: float, window_seconds: float) -> int:
    """Windows completed after ``seconds`` of movement (at least one)."""
    return max(1, int(math.floor(seconds / window_seconds + 1e-9)))


def decision_accuracy(
    p_left: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
    horizons: tuple[int, ...] = HORIZONS,
) -> dict[str, float | None]:
    """Accuracy of the aggregated decision after each horizon ``T`` seconds.

    Args:
        p_left: window probabilities of the left hand, ``(n_windows,)``, in time order within
            each recording.
        y: true class per window ``(n_windows,)``; recording: recording index ``(n_windows,)``.
        window_seconds: duration of one window.
    """
    z = log_odds(p_left)
    out: dict[str, float | None] = {}
    for horizon in horizons:
        k = windows_for_horizon(horizon, window_seconds)
        correct = total = 0
        for rec in np.unique(recording):
            idx = np.flatnonzero(recording == rec)
            if len(idx) < k:
                continue
            csum = np.concatenate([[0.0], np.cumsum(z[idx])])
            mean_z = (csum[k:] - csum[:-k]) / k  # every run of k consecutive windows
            truth = y[idx][0]
            correct += int(np.sum((mean_z > 0) == (truth == 1)))
            total += len(mean_z)
        out[str(horizon)] = correct / total if total else None
    return out


def expected_calibration_error(
    p: np.ndarray, y: np.ndarray, bins: int = CALIBRATION_BINS
) -> float | None:
    """Mean |predicted - observed frequency| over equal-width bins of P(left) ``p`` ``(n,)``,
    weighted by the bins' sizes; ``y`` ``(n,)`` is 1 for the left hand (``None`` when empty)."""
    return ece_of(reliability(p, y, bins))


def ece_of(points: list[dict]) -> float | None:
    """ECE from reliability points: their |p_mean - observed|, weighted by their ``n``.

    ``None`` without points: no prediction has no calibration error (0 would claim a perfect
    one)."""
    total = sum(point["n"] for point in points)
    if not total:
        return None
    return float(sum(point["n"] * abs(point["p_mean"] - point["observed"]) for point in points)
                 / total)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per bin of P(left): ``{"p_mean", "observed", "n"}`` (the reliability diagram's points)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    return [{"p_mean": float(p[which == b].mean()), "observed": float(y[which == b].mean()),
             "n": int((which == b).sum())} for b in np.unique(which)]


def roc_points(p: np.ndarray, y: np.ndarray, most: int = ROC_POINTS) -> dict:
    """The ROC curve of P(left) ``p`` ``(n,)`` against ``y`` ``(n,)`` (1 for the left hand):
    ``{"fpr": [...], "tpr": [...]}``, at most ``most`` points, first and last kept (both
    classes must be present)."""
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=True)
    if len(fpr) > most:  # evenly spaced along the curve's points: the corners stay
        keep = np.unique(np.linspace(0, len(fpr) - 1, most).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": fpr.round(4).tolist(), "tpr": tpr.round(4).tolist()}


def _recordings_in_order(recording: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(recording == r) for r in np.unique(recording)]


def _shares(idx: np.ndarray, share: np.ndarray | None) -> np.ndarray:
    """The new share of each window of one recording ``idx`` ``(m,)`` (1 for back-to-back
    windows, and for the first)."""
    if share is None:
        return np.ones(len(idx))
    w = np.asarray(share, dtype=np.float64)[idx].copy()
    w[0] = 1.0
    return w


def _run(trial: SequentialDecision, z: np.ndarray, idx: np.ndarray, w: np.ndarray,
         seconds: float):
    """Feed windows ``idx`` (new shares ``w``, the first counted whole: the stream has not
    seen its steps) to ``trial`` until ``seconds`` more of movement; yield each posterior."""
    until = trial.seconds + seconds - 1e-9
    for n, (i, weight) in enumerate(zip(idx, w, strict=True)):
        post = trial.update(float(z[i]), 1.0 if n == 0 else float(weight))
        yield i, post
        if post.seconds >= until:
            return


def sequential_metrics(
    z: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
    decision: DecisionModel,
    stream: Callable[[], SequentialDecision] | None = None,
    share: np.ndarray | None = None,
) -> dict:
    """The sequential decision on the windows of each recording, as ``live`` makes it.

    Args:
        z: left-hand log-odds of the active windows ``(n,)``, in time order per recording.
        y: true hand per window ``(n,)``; recording: recording index per window ``(n,)``.
        stream: makes a fresh decision stream per trial (default: :class:`SequentialDecision`
            with ``decision``); another rule with the same ``update`` can be compared.
        share: per window ``(n,)``, the share of its steps that the recording's previous
            window did not have (:func:`new_shares`); ``None``: windows back to back.

    Returns:
        ``threshold``, ``trials``, ``decided`` (fraction), ``accuracy`` (of decided trials,
        ``None`` without any), ``median_seconds`` (of movement to the decision, decided trials),
        ``ece`` and ``reliability`` (of the posterior at every window of every trial) and
        ``curve``: at every whole second of movement up to :data:`TRIAL_MAX_SECONDS` (1, 2, ...,
        60) the fraction of trials decided by then and the accuracy of those decisions
        (``None`` before any is decided).
    """
    outcomes, posteriors, truths = [], [], []
    for idx in _recordings_in_order(recording):
        truth = "left" if y[idx[0]] == 1 else "right"
        w = _shares(idx, share)
        moved = window_seconds * np.concatenate([[0.0], np.cumsum(w)[:-1]])  # before each
        # the first window starting at or after every multiple of TRIAL_EVERY_SECONDS
        marks = np.arange(0.0, moved[-1] + 1e-9, TRIAL_EVERY_SECONDS)
        for start in sorted(set(np.searchsorted(moved, marks - 1e-9).tolist())):
            trial = stream() if stream else SequentialDecision(decision, window_seconds)
            outcome = (None, None)
            for i, post in _run(trial, z, idx[start:], w[start:], TRIAL_MAX_SECONDS):
                posteriors.append(post.p_left)
                truths.append(y[i])
                if post.decided is not None:
                    outcome = (post.decided == truth, post.seconds)
                    break
            outcomes.append(outcome)
    decided = [o for o in outcomes if o[0] is not None]
    seconds = [s for _, s in decided]
    curve = []
    for limit in range(1, int(TRIAL_MAX_SECONDS) + 1):
        by_then = [ok for ok, s in decided if s <= limit + 1e-9]
        curve.append({"seconds": limit, "decided": len(by_then) / len(outcomes) if outcomes
                      else 0.0, "accuracy": float(np.mean(by_then)) if by_then else None})
    return {
        "threshold": decision.threshold,
        "trials": len(outcomes),
        "reliability": reliability(posteriors, truths) if posteriors else [],
        "decided": len(decided) / len(outcomes) if outcomes else 0.0,
        "accuracy": float(np.mean([ok for ok, _ in decided])) if decided else None,
        "median_seconds": float(np.median(seconds)) if seconds else None,
        "ece": expected_calibration_error(posteriors, truths) if posteriors else None,
        "curve": curve,
    }


def switch_delays(
    z: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
    decision: DecisionModel,
    stream: Callable[[], SequentialDecision] | None = None,
    share: np.ndarray | None = None,
) -> list[float | None]:
    """The delay of every spliced change of hand (see :func:`switch_metrics`): seconds of
    movement after the splice until the decision is the new hand, ``None`` where it never is
    within :data:`TRIAL_MAX_SECONDS`. Empty without recordings of both hands. ``share`` as in
    :func:`sequential_metrics`."""
    groups = _recordings_in_order(recording)
    delays: list[float | None] = []
    for k, first in enumerate(groups):
        others = [g for g in groups[k + 1:] + groups[:k] if y[g[0]] != y[first[0]]]
        w_first = _shares(first, share)
        # the last SWITCH_BEFORE_SECONDS of movement of the first recording
        last = np.cumsum((window_seconds * w_first)[::-1])
        before = max(1, int(np.searchsorted(last, SWITCH_BEFORE_SECONDS - 1e-9)) + 1)
        before = min(before, len(first))
        for second in others[:SWITCH_PARTNERS]:
            new_hand = "left" if y[second[0]] == 1 else "right"
            trial = stream() if stream else SequentialDecision(decision, window_seconds)
            for _ in _run(trial, z, first[-before:], w_first[-before:], math.inf):
                pass
            splice = trial.seconds
            delay = None
            for _, post in _run(trial, z, second, _shares(second, share), TRIAL_MAX_SECONDS):
                if post.decided == new_hand:
                    delay = post.seconds - splice
                    break
            delays.append(delay)
    return delays


def new_shares(start: np.ndarray, recording: np.ndarray, window_seconds: float) -> np.ndarray:
    """Per window ``(n,)``, the share of its steps that the previous window of its recording
    did not have, from window start times ``start`` ``(n,)`` (seconds, in time order per
    recording): what ``live`` weighs an overlapping window by (1 for the first of each
    recording, and for windows back to back or further apart)."""
    start = np.asarray(start, dtype=np.float64)
    gap = np.diff(start, prepend=-np.inf)
    gap[np.r_[True, np.asarray(recording)[1:] != np.asarray(recording)[:-1]]] = np.inf
    return np.minimum(1.0, gap / window_seconds)


def switch_metrics(
    z: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
    decision: DecisionModel,
    stream: Callable[[], SequentialDecision] | None = None,
    share: np.ndarray | None = None,
) -> dict | None:
    """How fast the decision follows a change of hand, on spliced recordings.

    Each recording, followed by each of the next :data:`SWITCH_PARTNERS` recordings of the other
    hand (all of them when there are fewer), gives one trial: the last
    :data:`SWITCH_BEFORE_SECONDS` of movement of the first, then the second from its start.
    The delay is the movement after the splice until the decision is the second hand (within
    :data:`TRIAL_MAX_SECONDS`). ``None`` without recordings of both hands. ``share`` as in
    :func:`sequential_metrics`.

    Returns:
        ``trials``, ``followed`` (fraction of trials whose decision reached the new hand),
        ``median_seconds`` (over the followed trials).
    """
    delays = switch_delays(z, y, recording, window_seconds, decision, stream, share)
    if not delays:
        return None
    followed = [d for d in delays if d is not None]
    return {"trials": len(delays), "followed": len(followed) / len(delays),
            "median_seconds": float(np.median(followed)) if followed else None}


def evaluate_windows(
    p_left: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
    decision: DecisionModel | None = None,
) -> dict:
    """All metrics of one split (windows back to back, in time order per recording).

    Returns:
        ``{"accuracy", "n_windows", "loss", "roc_auc", "roc", "confusion", "ece", "reliability",
        "decision_accuracy"}``; ``confusion`` is ``[[right→right, right→left], [left→right,
        left→left]]`` (rows: truth); ``roc_auc`` and ``roc`` (:func:`roc_points`) are ``None``
        when only one class is present.
        With a ``decision`` model, also the windows calibrated by it (``"ece_calibrated"``,
        ``"reliability_calibrated"``), ``"sequential"`` (:func:`sequential_metrics`) and, when
        both hands are present, ``"switch"`` (:func:`switch_metrics`).
    """
    p_left = np.asarray(p_left, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        raise DataError("no active windows to evaluate")
    pred = (p_left > 0.5).astype(np.int64)
    two_classes = len(np.unique(y)) == 2
    metrics = {
        "accuracy": float(accuracy_score(y, pred)),
        "n_windows": int(len(y)),
        "loss": float(log_loss(y, np.clip(p_left, EPS, 1 - EPS), labels=[0, 1])),
        "roc_auc": float(roc_auc_score(y, p_left)) if two_classes else None,
        "roc": roc_points(p_left, y) if two_classes else None,
        "confusion": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        "ece": expected_calibration_error(p_left, y),
        "reliability": reliability(p_left, y),
        "decision_accuracy": decision_accuracy(p_left, y, recording, window_seconds),
    }
    if decision is not None:
        z = log_odds(p_left)
        calibrated = decision.window_probability(z)
        metrics["ece_calibrated"] = expected_calibration_error(calibrated, y)
        metrics["reliability_calibrated"] = reliability(calibrated, y)
        metrics["sequential"] = sequential_metrics(z, y, recording, window_seconds, decision)
        switch = switch_metrics(z, y, recording, window_seconds, decision)
        if switch is not None:
            metrics["switch"] = switch
    return metrics


def split_windows(model, dataset: Dataset, split: str) -> WindowSet:
    """The windows of ``split`` (``train``, ``dev``, ``test`` or ``all``) for ``model``.

    ``train``/``dev``/``test`` re-create the split the model was trained with (method and seed
    from its provenance); they only make sense on the dataset it was trained on, so a dataset
    with another checksum is refused — use ``all`` for a dataset the model never saw.
    """
    config = model.window_config
    if split == "all":
        return all_windows(dataset, config)
    if split not in ("train", "dev", "test"):
        raise DataError(f"unknown split {split!r} (expected train, dev, test or all)")
    prov = model.provenance
    trained_on = prov.get("dataset_checksum")
    if trained_on and trained_on != dataset.checksum:
        raise DataError(
            f"{dataset.root}: not the dataset this model was trained on (checksum differs); "
            "use --split all to evaluate on new data"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        splits = make_splits(
            dataset,
            config,
            method=prov.get("split", "chrono"),
            seed=int(prov.get("seed", 0)),
            test_recordings=prov.get("test_recordings"),
            dev_recordings=prov.get("dev_recordings"),
        )
    return getattr(splits, split)


def evaluate_model(
    model, dataset: Dataset, split: str = "test", threshold: float | None = None
) -> dict:
    """Metrics of a loaded :class:`~deepmouse.modelfile.HandModel` on one split of a dataset.

    The sequential figures use the model's decision constants (none in files of format
    version 1), at ``threshold`` if given.
    """
    windows = split_windows(model, dataset, split)
    if len(windows) == 0:
        raise DataError(f"{dataset.root}: no active windows in split '{split}'")
    p_left = model.predict_proba(windows.X)[:, 1]
    decision = model.decision
    if decision is not None and threshold is not None:
        decision = decision.with_options(threshold=threshold)
    metrics = evaluate_windows(p_left, windows.y, windows.recording, model.window_config.seconds,
                               decision)
    metrics["split"] = split
    return metrics
