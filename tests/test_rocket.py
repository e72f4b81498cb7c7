"""The rocket family: MiniRocket (aeon) + ridge."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import assert_clean_error, cli
from sklearn.metrics import roc_auc_score

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import load_model, save_model


def test_rocket_input_is_moves_and_path():
    from deepmouse.families.rocket import rocket_input

    X = np.random.default_rng(0).normal(size=(3, 50, 2)).astype(np.float32)
    channels = rocket_input(X)
    assert channels.shape == (3, 4, 50) and channels.dtype == np.float32
    np.testing.assert_allclose(channels[:, 1], X[:, :, 1], rtol=1e-6)
    np.testing.assert_allclose(channels[:, 2, -1], X[:, :, 0].sum(1), rtol=1e-4, atol=1e-5)


def test_rocket_family_learns_and_round_trips(rocket_splits, tmp_path):
    """MiniRocket + ridge: above chance on held-out test windows, saved without pickle."""
    pytest.importorskip("aeon")
    splits = rocket_splits
    clf = HandClassifier(family="rocket").fit(splits.train.X, splits.train.y)
    p_left = clf.predict_proba(splits.test.X)[:, 1]
    assert ((p_left > 0.5) == (splits.test.y == 1)).mean() > 0.6
    assert roc_auc_score(splits.test.y, p_left) > 0.6
    assert 0.05 < p_left.mean() < 0.95 and np.isfinite(p_left).all()
    path = save_model(tmp_path / "rocket.safetensors", clf, splits.config)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(splits.test.X)[:, 1], p_left, rtol=1e-6)
    assert loaded.classifier.resolved_params()["n_kernels"] == 10_000


def without_aeon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import aeon...`` fail as in an install that lost it."""
    monkeypatch.setitem(sys.modules, "aeon.transformations.collection.convolution_based", None)


def test_rocket_model_file_without_aeon_is_a_clear_error(rocket_splits, tmp_path, monkeypatch):
    """A rocket model file on a machine without aeon: one ModelFileError naming aeon."""
    pytest.importorskip("aeon")
    from deepmouse.modelfile import ModelFileError

    clf = HandClassifier(family="rocket", n_kernels=200).fit(
        rocket_splits.train.X[::5], rocket_splits.train.y[::5]
    )
    path = save_model(tmp_path / "rocket.safetensors", clf, rocket_splits.config)
    without_aeon(monkeypatch)
    with pytest.raises(ModelFileError, match="needs aeon"):
        load_model(path)


def test_training_rocket_without_aeon_is_one_line_naming_aeon(synth_dataset, tmp_path,
                                                                    monkeypatch):
    without_aeon(monkeypatch)
    out = tmp_path / "run"
    assert_clean_error(cli("train", synth_dataset, "--model", "rocket", "--out", out),
                       "pip install 'aeon")
    assert not out.exists()


def test_rocket_rejects_too_few_kernels_with_or_without_aeon(monkeypatch):
    with pytest.raises(ValueError, match="n_kernels must be >= 84"):
        HandClassifier(family="rocket", n_kernels=10).check_params()
    without_aeon(monkeypatch)
    with pytest.raises(ValueError, match="n_kernels must be >= 84"):
        HandClassifier(family="rocket", n_kernels=10).check_params()


@pytest.mark.parametrize("window", [60, 200])
def test_one_window_features_equal_aeons_bit_for_bit(window):
    """The compiled one-window path computes aeon's features in aeon's order and precision."""
    from deepmouse.families.minirocket_one import one_window_features
    from deepmouse.families.rocket import PARAMETER_NAMES, rocket_features, rocket_input

    rng = np.random.default_rng(window)
    X = rng.normal(size=(40, window, 2)).astype(np.float32)
    clf = HandClassifier("rocket", n_kernels=1000).fit(X, np.arange(40) % 2)
    arrays = clf.state_.arrays
    parameters = tuple(arrays[name] for name in PARAMETER_NAMES)
    from aeon.transformations.collection.convolution_based._minirocket import MiniRocket

    test = rng.normal(size=(10, window, 2)).astype(np.float32)
    one = np.stack([one_window_features(rocket_input(x[None])[0], *parameters,
                                        MiniRocket._indices) for x in test])
    np.testing.assert_array_equal(one, rocket_features(arrays, test))


def test_rocket_predict_proba_one_equals_predict_proba(rocket_splits):
    splits = rocket_splits
    clf = HandClassifier("rocket", n_kernels=1000).fit(splits.train.X[::3], splits.train.y[::3])
    X = splits.test.X[:20]
    one = np.concatenate([clf.predict_proba_one(x[None]) for x in X])
    np.testing.assert_allclose(one, clf.predict_proba(X), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="expects windows of"):
        clf.predict_proba_one(X[:1, :8])
