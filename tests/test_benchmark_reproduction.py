"""benchmarks/deepmouse_reproduction.py on synthetic data (the real figures are in RESULTS.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_benchmark

FIELDS = {"run", "implementation", "scaling", "split", "epochs", "lr", "batch_size", "hidden",
          "windows", "peak_dev_accuracy", "peak_dev_epoch", "kept_epoch", "kept_dev_accuracy",
          "test_accuracy", "final_train_accuracy", "train_seconds", "scale", "history"}


@pytest.fixture(scope="module")
def bench():
    """benchmarks/deepmouse_reproduction.py as a module."""
    return load_benchmark("deepmouse_reproduction")


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    """3 minutes of synthetic data, one session per hand: a few dozen windows a split."""
    from deepmouse.synth import synthesize_dataset

    return synthesize_dataset(tmp_path_factory.mktemp("repro") / "data", minutes=3, seed=3)


def run(bench, capsys, *args) -> tuple[dict, str]:
    assert bench.main([*map(str, args), "--quick", "--json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_deepmouse_rows_share_windows_and_differ_in_scale(bench, small_dataset, tmp_path,
                                                          capsys):
    """Both deepmouse rows train on the same windows; only the scaling differs; the JSON report
    has every field, also in --out."""
    report, _ = run(bench, capsys, "--data", small_dataset, "--splits", "chrono",
                    "--runs", "lstm,lstm-fixed", "--out", tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["results"] == report["results"]
    learned, fixed = report["results"]
    for row in (learned, fixed):
        assert FIELDS <= set(row)
        assert row["epochs"] == bench.QUICK_EPOCHS == len(row["history"]["dev_accuracy"])
        dev_loss = row["history"]["dev_loss"]  # the kept epoch is the one of lowest dev loss
        assert dev_loss[row["kept_epoch"] - 1] == min(dev_loss)
        assert row["kept_dev_accuracy"] == row["history"]["dev_accuracy"][row["kept_epoch"] - 1]
        dev = row["history"]["dev_accuracy"]  # the peak is the best epoch of the dev curve
        assert row["peak_dev_accuracy"] == max(dev) == dev[row["peak_dev_epoch"] - 1]
        assert row["peak_dev_accuracy"] >= row["kept_dev_accuracy"]
        assert 0 <= row["test_accuracy"] <= 1 and row["split"] == "chrono"
    assert learned["windows"] == fixed["windows"]
    assert (learned["scaling"], fixed["scaling"]) == ("learned", "deepmouse-constants")
    assert fixed["scale"] == list(bench.DEEPMOUSE_SCALE) != learned["scale"]
    assert "deepmouse `lstm`" in bench.markdown(report["results"])


def test_fixed_scale_classifier_divides_by_deepmouse_constants(bench):
    """The subclass fixes scale_; the library's default still learns it from the windows."""
    from deepmouse.classifier import HandClassifier
    from deepmouse.windows import fit_scale

    rng = np.random.default_rng(0)
    X = rng.normal(0, [8.0, 5.0], size=(16, 20, 2)).astype(np.float32)
    y = np.arange(16) % 2
    params = {"hidden": 4, "epochs": 1, "device": "cpu"}
    fixed = bench.FixedScaleClassifier("lstm", **params).fit(X, y)
    np.testing.assert_array_equal(fixed.scale_, bench.DEEPMOUSE_SCALE)
    np.testing.assert_allclose(fixed._normalise(X), X / np.array(bench.DEEPMOUSE_SCALE),
                               rtol=1e-6)
    np.testing.assert_allclose(HandClassifier("lstm", **params).fit(X, y).scale_, fit_scale(X))


def test_without_keras_the_keras_rows_are_skipped_and_said_so(bench, small_dataset,
                                                              monkeypatch, capsys):
    monkeypatch.setattr(bench, "import_keras", lambda: None)
    report, err = run(bench, capsys, "--data", small_dataset, "--splits", "chrono",
                      "--runs", "keras")
    assert report["results"] == []
    assert "pip install" in err and any("Keras rows skipped" in n for n in report["notes"])


def test_keras_row(bench, small_dataset, capsys):
    """DeepMouse's Keras network trains on the same windows, with DeepMouse's constants, and
    its LSTM on the fused kernel computes what Keras's own loop does."""
    if bench.import_keras() is None:
        pytest.skip("keras not installed (pip install -e .[keras])")
    report, _ = run(bench, capsys, "--data", small_dataset, "--splits", "chrono",
                    "--runs", "keras")
    (row,) = report["results"]
    assert FIELDS <= set(row) and row["implementation"] == "keras"
    assert row["scale"] == list(bench.DEEPMOUSE_SCALE)
    assert row["lstm_paths_max_difference"] < 1e-5
