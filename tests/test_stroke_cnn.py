"""The stroke-cnn family (the default): features, shapes, training on synthetic data, model
file round trip, and the default run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import load_model, save_model
from deepmouse.models import N_STROKE_FEATURES, ModelConfig, build_model, stroke_features
from deepmouse.recordings import load_dataset
from deepmouse.windows import WindowConfig, make_splits

TINY_STROKE = {
    "family": "stroke-cnn", "hidden": 4, "conv_layers": 2, "epochs": 2, "batch_size": 32,
    "device": "cpu", "threads": 1, "augment": 0.2,
}


def test_stroke_features_shape_and_finite():
    x = torch.randn(5, 120, 2)
    x[1] = 0.0  # a window without any movement must not give NaN
    f = stroke_features(x)
    assert f.shape == (5, N_STROKE_FEATURES)
    assert torch.isfinite(f).all()


def test_stroke_features_see_mirroring():
    """Mirroring x swaps the hands: the curvature features must change sign."""
    t = torch.linspace(0, 3, 200)
    arc = torch.stack([torch.cos(t), torch.sin(t)], -1)  # a counter-clockwise arc
    x = torch.diff(arc, dim=0).unsqueeze(0) * 10
    mirrored = x * torch.tensor([-1.0, 1.0])
    f, g = stroke_features(x)[0], stroke_features(mirrored)[0]
    turn_mean = 2 * 8 + 9 + 4  # first scalar after histogram, per-direction turn, moments, speed
    assert f[turn_mean] > 0.001 and torch.isclose(g[turn_mean], -f[turn_mean], atol=1e-5)


@pytest.mark.parametrize("conv_layers", [0, 1, 4])
def test_stroke_cnn_shapes(conv_layers):
    config = ModelConfig(kind="stroke-cnn", hidden=8, dropout=0.1, conv_layers=conv_layers)
    net = build_model(config).eval()
    assert net(torch.randn(3, 100, 2)).shape == (3,)


def test_stroke_cnn_conv_layers_limit():
    with pytest.raises(ValueError, match="conv_layers"):
        ModelConfig(kind="stroke-cnn", hidden=8, dropout=0.1, conv_layers=7)
    with pytest.raises(ValueError, match="conv_layers"):
        ModelConfig(kind="conv-gru", hidden=8, dropout=0.1, conv_layers=4, conv_filters=8)


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    from deepmouse.synth import synthesize_dataset

    data = synthesize_dataset(tmp_path_factory.mktemp("acc") / "data", minutes=4, seed=5)
    return make_splits(load_dataset(data), WindowConfig(window=100, stride=50), "chrono")


def test_stroke_cnn_trains_and_round_trips(splits, tmp_path):
    clf = HandClassifier(**TINY_STROKE).fit(
        splits.train.X, splits.train.y, splits.dev.X, splits.dev.y
    )
    p = clf.predict_proba(splits.test.X)
    assert p.shape == (len(splits.test.X), 2)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert len(clf.history_) == 2 and 1 <= clf.best_epoch_ <= 2
    path = save_model(tmp_path / "m.safetensors", clf, WindowConfig(window=100))
    loaded = load_model(path)
    assert loaded.classifier.family == "stroke-cnn"
    np.testing.assert_allclose(loaded.predict_proba(splits.test.X), p, rtol=1e-5, atol=1e-6)


def test_stroke_cnn_is_deterministic(splits):
    a = HandClassifier(**TINY_STROKE).fit(splits.train.X, splits.train.y)
    b = HandClassifier(**TINY_STROKE).fit(splits.train.X, splits.train.y)
    np.testing.assert_allclose(
        a.decision_function(splits.dev.X), b.decision_function(splits.dev.X), rtol=1e-5, atol=1e-5
    )



def test_a_last_batch_of_one_window_does_not_stop_training(splits):
    """65 windows in batches of 64: the lone 65th is skipped, not fed to batch normalisation."""
    pick = np.r_[0:33, len(splits.train) - 32 : len(splits.train)]  # both hands
    X, y = splits.train.X[pick], splits.train.y[pick]
    assert len(X) == 65 and len(np.unique(y)) == 2
    clf = HandClassifier(**TINY_STROKE | {"batch_size": 64, "epochs": 1}).fit(X, y)
    assert clf.history_[0]["train_accuracy"] >= 0  # the epoch ran: 64 windows seen


def _eval_net(conv_layers: int, seed: int = 0) -> torch.nn.Module:
    """A stroke CNN with random weights and random batch-normalisation statistics."""
    torch.manual_seed(seed)
    net = build_model(ModelConfig(kind="stroke-cnn", hidden=8, dropout=0.3,
                                  conv_layers=conv_layers))
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return net.eval()


def _windows(n: int = 40, steps: int = 150) -> np.ndarray:
    """Normalised windows like a pointer's: whole-pixel steps (many along an axis, many
    diagonal, some still) scaled per axis, and one window that never moves."""
    rng = np.random.default_rng(1)
    px = rng.integers(-4, 5, size=(n, steps, 2)).astype(np.float32)
    px[:, ::7, 1] = 0  # horizontal steps
    px[:, 3::11] = px[:, 3::11, :1]  # diagonal steps
    px[0] = 0
    return (px / np.array([2.3, 1.7], np.float32)).astype(np.float32)


def test_one_window_stroke_features_equal_the_torch_ones():
    from deepmouse.models import one_window_stroke_features

    levels = np.array([0.5, 0.75, 0.9, 0.99], np.float32)
    X = _windows()
    expected = stroke_features(torch.from_numpy(X)).numpy()
    got = np.stack([one_window_stroke_features(x, levels) for x in X])
    assert got.dtype == np.float32 and got.shape == expected.shape
    # the same bins (an exact count of each direction), sums in another order
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("conv_layers", [0, 1, 4])
def test_one_window_stroke_cnn_equals_the_network(conv_layers):
    from deepmouse.models import OneWindowStrokeCNN

    net = _eval_net(conv_layers)
    X = _windows()
    with torch.no_grad():
        expected = np.array([float(net(torch.from_numpy(x[None]))[0]) for x in X])
    scorer = OneWindowStrokeCNN(net)
    got = np.array([scorer(x) for x in X])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_predict_proba_one_equals_predict_proba(splits):
    clf = HandClassifier(**TINY_STROKE).fit(splits.train.X, splits.train.y)
    X = splits.test.X[:30]
    batch = clf.predict_proba(X)
    one = np.concatenate([clf.predict_proba_one(x[None]) for x in X])
    np.testing.assert_allclose(one, batch, rtol=0, atol=1e-6)
    assert clf.state_.runtime["one_window"] is not None  # the numpy path, not torch's
    with pytest.raises(ValueError, match="single window"):
        clf.predict_proba_one(X[:2])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba_one(np.full((1, 100, 2), np.nan))
