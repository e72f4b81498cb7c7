"""The stroke-cnn family: features, shapes, training on synthetic data, model-file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_benchmark
from sklearn.metrics import roc_auc_score

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import load_model, save_model
from deepmouse.models import N_STROKE_FEATURES, ModelConfig, build_model, stroke_features
from deepmouse.recordings import load_dataset
from deepmouse.windows import WindowConfig, make_splits

TINY_STROKE = {
    "model": "stroke-cnn", "hidden": 4, "conv_layers": 2, "epochs": 2, "batch_size": 32,
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
    net = build_model(ModelConfig(kind="stroke-cnn", hidden=8, conv_layers=conv_layers)).eval()
    assert net(torch.randn(3, 100, 2)).shape == (3,)


def test_stroke_cnn_conv_layers_limit():
    with pytest.raises(ValueError, match="conv_layers"):
        ModelConfig(kind="stroke-cnn", conv_layers=7)
    with pytest.raises(ValueError, match="conv_layers"):
        ModelConfig(kind="conv-gru", conv_layers=4)


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
    assert loaded.classifier.model == "stroke-cnn"
    np.testing.assert_allclose(loaded.predict_proba(splits.test.X), p, rtol=1e-5, atol=1e-6)


def test_stroke_cnn_is_deterministic(splits):
    a = HandClassifier(**TINY_STROKE).fit(splits.train.X, splits.train.y)
    b = HandClassifier(**TINY_STROKE).fit(splits.train.X, splits.train.y)
    np.testing.assert_allclose(
        a.decision_function(splits.dev.X), b.decision_function(splits.dev.X), rtol=1e-5, atol=1e-5
    )


def test_default_run_is_stroke_cnn_on_overlapping_windows():
    from deepmouse.classifier import DEFAULT_FAMILY, FAMILY_DEFAULTS
    from deepmouse.pipeline import RunConfig

    config = RunConfig(dataset="unused")
    assert config.classifier().model == DEFAULT_FAMILY == "stroke-cnn"
    assert config.resolved_params()["hidden"] == FAMILY_DEFAULTS["stroke-cnn"]["hidden"]
    assert config.window_config().stride == 20  # window / 10
    tuned = RunConfig(dataset="unused", params={"epochs": 1}, stride=50)
    assert tuned.classifier().model == "stroke-cnn" and tuned.resolved_params()["epochs"] == 1
    assert tuned.window_config().stride == 50
    other = RunConfig(dataset="unused", params={"model": "gru"})
    assert other.resolved_params()["hidden"] == 64  # gru's default, not stroke-cnn's
    assert other.window_config().stride is None


@pytest.fixture(scope="module")
def bench():
    """benchmarks/accuracy.py as a module."""
    return load_benchmark("accuracy")


def test_rocket_input_is_moves_and_path():
    from deepmouse.rocket import rocket_input

    X = np.random.default_rng(0).normal(size=(3, 50, 2)).astype(np.float32)
    channels = rocket_input(X)
    assert channels.shape == (3, 4, 50) and channels.dtype == np.float32
    np.testing.assert_allclose(channels[:, 1], X[:, :, 1], rtol=1e-6)
    np.testing.assert_allclose(channels[:, 2, -1], X[:, :, 0].sum(1), rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def rocket_splits(tmp_path_factory):
    """10 minutes of synthetic data: MiniRocket needs more windows than the networks' fixture."""
    from deepmouse.synth import synthesize_dataset

    data = synthesize_dataset(tmp_path_factory.mktemp("rocket") / "data", minutes=10, seed=5)
    return make_splits(load_dataset(data), WindowConfig(window=100, stride=25), "chrono")


def test_rocket_family_learns_and_round_trips(rocket_splits, tmp_path):
    """MiniRocket + ridge: scored on held-out test windows, calibrated, saved without pickle."""
    pytest.importorskip("aeon")
    splits = rocket_splits
    clf = HandClassifier(model="rocket").fit(splits.train.X, splits.train.y)
    p_left = clf.predict_proba(splits.test.X)[:, 1]
    assert ((p_left > 0.5) == (splits.test.y == 1)).mean() > 0.6
    assert roc_auc_score(splits.test.y, p_left) > 0.6
    assert 0.05 < p_left.mean() < 0.95 and np.isfinite(p_left).all()
    path = save_model(tmp_path / "rocket.safetensors", clf, splits.config)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(splits.test.X)[:, 1], p_left, rtol=1e-6)
    assert loaded.classifier.resolved_params()["n_kernels"] == 10_000


def test_rocket_model_file_without_aeon_is_a_clear_error(rocket_splits, tmp_path, monkeypatch):
    """A rocket model file on a machine without aeon: one ModelFileError naming the extra."""
    pytest.importorskip("aeon")
    import deepmouse.rocket
    from deepmouse.modelfile import ModelFileError

    clf = HandClassifier(model="rocket", n_kernels=200).fit(
        rocket_splits.train.X[::5], rocket_splits.train.y[::5]
    )
    path = save_model(tmp_path / "rocket.safetensors", clf, rocket_splits.config)

    def no_aeon():
        raise ImportError("the rocket family needs aeon: pip install 'deepmouse[rocket]'")

    monkeypatch.setattr(deepmouse.rocket, "_aeon", no_aeon)
    with pytest.raises(ModelFileError, match=r"deepmouse\[rocket\]"):
        load_model(path)


def test_rocket_rejects_too_few_kernels():
    with pytest.raises(ValueError, match="n_kernels"):
        HandClassifier(model="rocket", n_kernels=10).check_params()


def test_rocket_benchmark_row(bench, rocket_splits):
    """benchmarks/accuracy.py scores the rocket baseline on the test split, with a loss."""
    pytest.importorskip("aeon")
    row = bench.run_one("rocket", rocket_splits, 100, quick=False, seed=0)
    assert row["test_windows"] == len(rocket_splits.test) and row["test"]["loss"] > 0
    assert row["test"]["accuracy"] > 0.6


def test_accuracy_benchmark_table_from_fold_rows(bench):
    """benchmarks/accuracy.py: summary over folds and the Markdown table (no training)."""

    def fold(name, acc, d10):
        return {"fold": name, "dev_accuracy": acc, "train_seconds": 1.0, "stride": None,
                "test": {"accuracy": acc, "loss": 0.5, "roc_auc": acc,
                         "decision_accuracy": {"2": acc, "5": acc, "10": d10, "30": None}}}

    folds = [fold("test r1+l1", 0.6, 0.7), fold("test r2+l2", 0.8, 0.9)]
    summary = bench.summarise(folds)
    assert summary["accuracy"]["mean"] == pytest.approx(0.7)
    assert summary["accuracy"]["std"] == pytest.approx(0.1)
    assert summary["decision_accuracy"]["30"] is None
    report = {"results": [{"task": "mouse", "window": 200, "family": "svm", "folds": folds,
                           "summary": summary}],
              "deepmouse_reported": bench.DEEPMOUSE_REPORTED}
    table = bench.markdown(report)
    assert "0.700 ± 0.100" in table and "optimistic" in table and "r2+l2: 0.800 / 0.900" in table
