"""Networks, the training loop and the scikit-learn estimator, really trained on small data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY
from sklearn.model_selection import cross_val_score

from deepmouse.classifier import HandClassifier
from deepmouse.models import ModelConfig, build_model
from deepmouse.recordings import load_dataset
from deepmouse.windows import WindowConfig, make_splits


@pytest.fixture(scope="module")
def splits(synth_dataset):
    return make_splits(load_dataset(synth_dataset), WindowConfig(window=200), "chrono")


@pytest.mark.parametrize(
    ("kind", "conv"), [("lstm", 0), ("gru", 0), ("conv-gru", 0), ("conv-gru", 3)]
)
def test_networks_map_windows_to_one_logit(kind, conv):
    net = build_model(ModelConfig(kind=kind, hidden=8, conv_layers=conv, dropout=0.2, l1=1e-3))
    out = net(torch.randn(5, 200, 2))
    assert out.shape == (5,)
    assert net.recurrent_penalty().item() > 0


def test_bad_architecture_is_refused():
    with pytest.raises(ValueError, match="conv_layers must be 0-3"):
        ModelConfig(conv_layers=4)
    with pytest.raises(ValueError, match="unknown network"):
        ModelConfig(kind="transformer")


def test_fit_learns_on_train_and_beats_chance_on_dev(splits):
    clf = HandClassifier(model="conv-gru", hidden=16, epochs=8, device="cpu", seed=0)
    assert clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y) is clf
    history = clf.history_
    assert len(history) == 8 and 1 <= clf.best_epoch_ <= 8
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # the kept epoch is the one with the lowest dev loss
    assert clf.best_epoch_ == 1 + int(np.argmin([r["dev_loss"] for r in history]))
    proba = clf.predict_proba(splits.test.X)
    assert proba.shape == (len(splits.test), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(splits.test.X), (proba[:, 1] > 0.5).astype(int))


def test_same_seed_same_model_other_seed_differs(splits):
    def fit(seed):
        clf = HandClassifier(**TINY | {"seed": seed}).fit(splits.train.X, splits.train.y)
        return clf.predict_proba(splits.dev.X)[:, 1]

    np.testing.assert_array_equal(fit(3), fit(3))
    assert not np.allclose(fit(3), fit(4))


def test_early_stopping_stops(splits):
    clf = HandClassifier(**TINY | {"epochs": 40, "patience": 1, "lr": 0.05})
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    assert len(clf.history_) < 40


def test_sklearn_cross_val_score(splits):
    scores = cross_val_score(HandClassifier(**TINY), splits.train.X, splits.train.y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_svm_probabilities_are_calibrated_log_odds(splits):
    clf = HandClassifier(model="svm").fit(splits.train.X, splits.train.y)
    p = clf.predict_proba(splits.dev.X)[:, 1]
    assert ((0 < p) & (p < 1)).all() and p.std() > 0


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((4, 10, 3)), [0, 1, 0, 1], r"shape \(n_windows, window, 2\)"),
        (np.zeros((4, 10, 2)), [0, 1, 0], "4 windows but y has 3"),
        (np.zeros((4, 10, 2)), [0, 0, 0, 0], "only one class"),
        (np.full((4, 10, 2), np.nan), [0, 1, 0, 1], "NaN"),
        (np.zeros((4, 10, 2)), [0, 1, 2, 1], "labels must be 0"),
    ],
)
def test_fit_validates_inputs(X, y, message):
    with pytest.raises(ValueError, match=message):
        HandClassifier(**TINY).fit(X, y)


def test_predict_refuses_other_window_length(splits):
    clf = HandClassifier(**TINY).fit(splits.train.X, splits.train.y)
    with pytest.raises(ValueError, match="expects windows of 200 steps"):
        clf.predict_proba(np.zeros((2, 100, 2)))


def test_windows_too_short_for_the_architecture_are_refused():
    X = np.random.default_rng(0).normal(size=(8, 4, 2)).astype(np.float32)
    y = np.repeat([0, 1], 4)
    with pytest.raises(ValueError, match="at least 8 steps"):
        HandClassifier(model="conv-gru", epochs=1).fit(X, y)
    HandClassifier(model="conv-gru", conv_layers=2, hidden=4, epochs=1, device="cpu").fit(X, y)
