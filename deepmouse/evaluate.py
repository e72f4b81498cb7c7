"""Evaluation: per-window metrics and the decision over time.

Per window: accuracy, binary cross-entropy, confusion matrix and ROC AUC (scikit-learn).

Decision over time — what a live user sees: the probabilities of consecutive *active* windows of
one recording are combined by their mean log-odds (:func:`decision_probability`, the same
function live mode uses). The decision after ``T`` seconds of movement uses the
``k = max(1, floor(T / window_seconds))`` windows completed by then; its accuracy is averaged
over every run of ``k`` consecutive active windows of every recording. A horizon that no
recording is long enough for is reported as ``None``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

from deepmouse.recordings import DataError, Dataset
from deepmouse.windows import WindowSet, all_windows, make_splits

HORIZONS: tuple[int, ...] = (2, 5, 10, 30)
EPS = 1e-7


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


def evaluate_windows(
    p_left: np.ndarray,
    y: np.ndarray,
    recording: np.ndarray,
    window_seconds: float,
) -> dict:
    """All metrics of one split.

    Returns:
        ``{"accuracy", "n_windows", "loss", "roc_auc", "confusion", "decision_accuracy"}``;
        ``confusion`` is ``[[right→right, right→left], [left→right, left→left]]`` (rows: truth);
        ``roc_auc`` is ``None`` when only one class is present.
    """
    p_left = np.asarray(p_left, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        raise DataError("no active windows to evaluate")
    pred = (p_left > 0.5).astype(np.int64)
    two_classes = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "n_windows": int(len(y)),
        "loss": float(log_loss(y, np.clip(p_left, EPS, 1 - EPS), labels=[0, 1])),
        "roc_auc": float(roc_auc_score(y, p_left)) if two_classes else None,
        "confusion": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        "decision_accuracy": decision_accuracy(p_left, y, recording, window_seconds),
    }


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


def evaluate_model(model, dataset: Dataset, split: str = "test") -> dict:
    """Metrics of a loaded :class:`~deepmouse.modelfile.HandModel` on one split of a dataset."""
    windows = split_windows(model, dataset, split)
    if len(windows) == 0:
        raise DataError(f"{dataset.root}: no active windows in split '{split}'")
    p_left = model.predict_proba(windows.X)[:, 1]
    metrics = evaluate_windows(p_left, windows.y, windows.recording, model.window_config.seconds)
    metrics["split"] = split
    return metrics
