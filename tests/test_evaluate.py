"""Metrics and the decision over time."""

from __future__ import annotations

import numpy as np
import pytest

from deepmouse.decision import DecisionModel, SequentialDecision
from deepmouse.evaluate import (
    decision_accuracy,
    decision_probability,
    evaluate_model,
    evaluate_windows,
    new_shares,
    roc_points,
    sequential_metrics,
    switch_delays,
    windows_for_horizon,
)
from deepmouse.modelfile import load_model
from deepmouse.recordings import DataError, load_dataset


def test_decision_probability_is_sigmoid_of_mean_log_odds():
    assert decision_probability(np.array([])) == 0.5
    assert decision_probability(np.array([0.9, 0.9])) == pytest.approx(0.9)
    assert decision_probability(np.array([0.8, 0.2])) == pytest.approx(0.5)
    assert decision_probability(np.array([0.9, 0.6, 0.3])) > 0.5


def test_windows_for_horizon():
    assert [windows_for_horizon(t, 2.0) for t in (2, 5, 10, 30)] == [1, 2, 5, 15]
    assert windows_for_horizon(2, 8.0) == 1


def test_decision_accuracy_aggregates_runs_within_recordings():
    # recording 0 (left): weakly right-leaning noise on single windows, but left on average
    p = np.array([0.45, 0.9, 0.45, 0.9, 0.45, 0.9])
    y = np.ones(6, int)
    rec = np.zeros(6, int)
    acc = decision_accuracy(p, y, rec, window_seconds=2.0, horizons=(2, 4, 30))
    assert acc["2"] == pytest.approx(0.5)  # single windows: half right
    assert acc["4"] == pytest.approx(1.0)  # any pair averages to left
    assert acc["30"] is None  # no recording has 15 windows


def test_decision_runs_do_not_cross_recordings():
    p = np.array([0.9, 0.9, 0.1, 0.1])
    y = np.array([1, 1, 0, 0])
    rec = np.array([0, 0, 1, 1])
    assert decision_accuracy(p, y, rec, 2.0, horizons=(4,))["4"] == 1.0


def test_evaluate_windows_fields():
    y = np.array([0, 0, 1, 1])
    m = evaluate_windows(np.array([0.2, 0.7, 0.8, 0.9]), y, np.array([0, 0, 1, 1]), 2.0)
    assert m["accuracy"] == 0.75 and m["n_windows"] == 4
    assert m["confusion"] == [[1, 1], [0, 2]]
    assert m["roc_auc"] == 1.0
    assert set(m["decision_accuracy"]) == {"2", "5", "10", "30"}
    one_class = evaluate_windows(np.array([0.8, 0.9]), np.array([1, 1]), np.zeros(2, int), 2.0)
    assert one_class["roc_auc"] is None and one_class["roc"] is None


def test_roc_points_run_from_the_corner_to_the_corner_and_are_thinned():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.3, 5000), 0, 1)
    roc = roc_points(p, y, most=50)
    assert len(roc["fpr"]) == len(roc["tpr"]) <= 50
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert roc["fpr"] == sorted(roc["fpr"]) and roc["tpr"] == sorted(roc["tpr"])


def test_evaluate_model_recreates_the_training_split(tiny_run, synth_dataset):
    model = load_model(tiny_run.model_path)
    metrics = evaluate_model(model, load_dataset(synth_dataset), "test")
    assert metrics["n_windows"] == sum(tiny_run.split_table["test"].values())
    assert metrics["accuracy"] == pytest.approx(tiny_run.metrics["test"]["accuracy"])


def test_train_split_on_a_foreign_dataset_is_refused(tiny_run, synth_sessions):
    model = load_model(tiny_run.model_path)
    with pytest.raises(DataError, match="--split all"):
        evaluate_model(model, load_dataset(synth_sessions), "test")
    metrics = evaluate_model(model, load_dataset(synth_sessions), "all")
    assert metrics["n_windows"] > 0


def test_new_shares_are_what_live_weighs_a_window_by():
    """Windows every 0.5 s of 2 s share 3/4 of their steps with the previous one; after a pause
    or at a new recording a window is all new."""
    start = np.array([0.0, 0.5, 1.0, 6.0, 6.5, 0.0, 0.5])
    recording = np.array([0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(new_shares(start, recording, 2.0),
                               [1, 0.25, 0.25, 1, 0.25, 1, 0.25])


class LoggedDecision(SequentialDecision):
    """SequentialDecision that keeps the weights it was given (one list per trial)."""

    trials: list[list[float]] = []

    def __init__(self, *args) -> None:
        super().__init__(*args)
        LoggedDecision.trials.append([])

    def update(self, z: float, weight: float = 1.0):
        LoggedDecision.trials[-1].append(weight)
        return super().update(z, weight)


def test_overlapping_windows_are_scored_by_their_new_movement():
    """Back to back, ``share`` of ones is the default. Every 0.5 s: a trial's first window
    counts whole and the others a quarter, trials start every 5 s of movement, and decisions
    come on the half second."""
    decision = DecisionModel(mu=1.0, sigma2=4.0, tau2=0.5)
    rng = np.random.default_rng(0)
    z = rng.normal(1.0, 2.0, 200)
    y, recording = np.ones(200, dtype=int), np.zeros(200, dtype=int)
    assert sequential_metrics(z, y, recording, 2.0, decision, share=np.ones(200)) == \
        sequential_metrics(z, y, recording, 2.0, decision)
    share = np.full(200, 0.25)
    LoggedDecision.trials = []
    stream = lambda: LoggedDecision(decision, 2.0)  # noqa: E731
    result = sequential_metrics(z, y, recording, 2.0, decision, stream, share=share)
    first = LoggedDecision.trials[0]
    assert first[0] == 1.0 and set(first[1:]) <= {0.25}
    assert result["trials"] == len(LoggedDecision.trials) == int((2 + 199 * 0.5) // 5) + 1
    assert result["median_seconds"] % 0.5 == 0
    two = np.r_[z[:100], -z[100:]]  # a right-hand recording after a left-hand one
    delays = switch_delays(two, np.r_[y[:100], 0 * y[100:]], np.r_[recording[:100],
                           recording[100:] + 1], 2.0, decision, share=share)
    assert len(delays) == 2 and all(d is None or d % 0.5 == 0 for d in delays)
