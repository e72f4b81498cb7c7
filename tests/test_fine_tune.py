"""train --init: a run that starts from a trained model keeps its network, window and
normalisation and continues from its weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, TINY_ARGS, assert_clean_error, cli

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import load_model
from deepmouse.pipeline import RunConfig, train_run


def test_a_fine_tuned_network_starts_from_the_weights_it_is_given(tiny_run):
    """With a learning rate too small to move anything, fine-tuning returns the model it
    started from: the weights came from it, not from a new initialisation."""
    start = tiny_run.classifier
    X = np.random.default_rng(0).normal(0, 5, size=(64, 200, 2)).astype(np.float32)
    y = np.arange(64) % 2
    tuned = HandClassifier(**(TINY | {"lr": 1e-12, "epochs": 1, "seed": 7})).fit(X, y, init=start)
    fresh = HandClassifier(**(TINY | {"lr": 1e-12, "epochs": 1, "seed": 7})).fit(X, y)
    np.testing.assert_array_equal(tuned.scale_, start.scale_)
    np.testing.assert_allclose(tuned.decision_function(X), start.decision_function(X),
                               atol=1e-5)
    assert not np.allclose(fresh.decision_function(X), start.decision_function(X), atol=1e-3)


def test_train_init_runs_from_a_run_folder_and_records_where_it_started(tiny_run,
                                                                       synth_dataset, tmp_path):
    out = tmp_path / "tuned"
    result = cli("train", synth_dataset, "--init", tiny_run.out, "--epochs", "1", "--lr",
                 "1e-3", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["init"] == str(tiny_run.out / "model.safetensors")
    assert config["family"] == "gru" and config["resolved_params"]["hidden"] == 8
    assert config["resolved_params"]["lr"] == 1e-3 and config["resolved_params"]["epochs"] == 1
    model = load_model(out / "model.safetensors")
    assert model.provenance["init"]["model"] == config["init"]
    assert model.provenance["init"]["provenance"]["dataset_checksum"] == \
        load_model(tiny_run.out / "model.safetensors").provenance["dataset_checksum"]
    np.testing.assert_array_equal(model.classifier.scale_, tiny_run.classifier.scale_)


@pytest.mark.parametrize("args, message", [
    (["--hidden", "16"], "hidden cannot change"),
    (["--model", "lstm"], "is a gru model; it cannot start a lstm run"),
    (["--window", "100"], "takes window 200; the run cannot change it"),
])
def test_what_fine_tuning_cannot_change_is_one_line(tiny_run, synth_dataset, tmp_path, args,
                                                    message):
    out = tmp_path / "x"
    assert_clean_error(cli("train", synth_dataset, "--init", tiny_run.out, *args, "--out", out),
                       message)
    assert not out.exists()


def test_a_family_without_fine_tuning_and_a_missing_model_are_one_line(synth_dataset,
                                                                       tmp_path):
    svm = train_run(RunConfig(dataset=str(synth_dataset), out=str(tmp_path / "svm"),
                              params={"family": "svm"}), plots=False)
    assert_clean_error(cli("train", synth_dataset, "--init", svm.out, "--out", tmp_path / "a"),
                       "svm family cannot start from a trained model")
    assert_clean_error(cli("train", synth_dataset, "--init", tmp_path / "none.safetensors",
                           "--out", tmp_path / "b"), "no such model file")
    assert_clean_error(cli("train", synth_dataset, "--init", synth_dataset, *TINY_ARGS,
                           "--out", tmp_path / "c"), "not a run folder")


def test_fine_tuning_takes_the_familys_fine_tuning_rate_unless_one_is_given(tiny_run,
                                                                          synth_dataset):
    from deepmouse.families.network import FINE_TUNE
    from deepmouse.pipeline import with_init

    init = str(tiny_run.out / "model.safetensors")
    config, model = with_init(RunConfig(dataset=str(synth_dataset), init=init))
    assert config.resolved_params()["lr"] == FINE_TUNE["lr"] != TINY.get("lr")
    assert config.resolved_params()["hidden"] == 8  # the network comes from the model
    config, _ = with_init(RunConfig(dataset=str(synth_dataset), init=init,
                                    params={"lr": 0.01}))
    assert config.resolved_params()["lr"] == 0.01


def test_ridge_from_zero_is_a_ridge_and_a_large_penalty_keeps_its_start():
    from sklearn.linear_model import RidgeClassifier

    from deepmouse.families.ridge import RidgeFrom

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 12)), np.arange(80) % 2
    start = rng.normal(size=12)
    plain = RidgeClassifier(alpha=3.0).fit(X, y)
    np.testing.assert_allclose(RidgeFrom(np.zeros(12), 3.0).fit(X, y).decision_function(X),
                               plain.decision_function(X), atol=1e-10)
    held = RidgeFrom(start, 1e9).fit(X, y)
    np.testing.assert_allclose(held.coef_, start, atol=1e-6)
    moved = RidgeFrom(start, 1e-3).fit(X, y)
    assert np.abs(moved.coef_ - start).max() > 0.1


def small_windows(seed: int, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Windows of 60 steps whose left hand drifts in x: something to learn, quickly."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 60, 2)).astype(np.float32)
    y = np.arange(n) % 2
    X[y == 1, :, 0] += 0.4
    return X, y


def test_rocket_fine_tuning_keeps_its_kernels_and_refits_its_ridge():
    X, y = small_windows(0)
    start = HandClassifier("rocket", n_kernels=300).fit(X, y)
    X_new, y_new = small_windows(1)
    tuned = HandClassifier("rocket", n_kernels=300, seed=5).fit(X_new, y_new, init=start)
    for name in ("dilations", "biases", "channel_indices", "feature_scale"):
        np.testing.assert_array_equal(tuned.state_.arrays[name], start.state_.arrays[name])
    assert not np.allclose(tuned.state_.arrays["coef"], start.state_.arrays["coef"])
    with pytest.raises(ValueError, match="n_kernels cannot change"):
        HandClassifier("rocket", n_kernels=400).fit(X_new, y_new, init=start)


def test_an_ensemble_fine_tunes_each_member_from_its_own_part():
    """The gru member, at a rate too small to move it, comes back as it was; the rocket
    member keeps its kernels; the members cannot change."""
    X, y = small_windows(0)
    start = HandClassifier("ensemble", members="gru,rocket").fit(X, y)
    X_new, y_new = small_windows(1)
    tuned = HandClassifier("ensemble", members="gru,rocket", seed=3).fit(X_new, y_new,
                                                                         init=start)
    gru_part = [k for k in start.state_.arrays if k.startswith("0.")]
    for name in gru_part + ["1.dilations", "1.biases"]:
        np.testing.assert_allclose(tuned.state_.arrays[name], start.state_.arrays[name],
                                   atol=0.05 if name in gru_part else 0)
    gru_params, rocket_params = tuned.state_.settings["params"]
    assert gru_params["lr"] == 3e-4 and gru_params["seed"] == rocket_params["seed"] == 3
    with pytest.raises(ValueError, match="members cannot change"):
        HandClassifier("ensemble", members="stroke-cnn,rocket").fit(X_new, y_new, init=start)
