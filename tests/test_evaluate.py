"""Metrics and the decision over time."""

from __future__ import annotations

import numpy as np
import pytest

from deepmouse.evaluate import (
    decision_accuracy,
    decision_probability,
    evaluate_model,
    evaluate_windows,
    roc_points,
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
