"""The ensemble family: members fitted on the same windows, their log-odds averaged, one file."""

from __future__ import annotations

import numpy as np
import pytest

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import load_model, save_model


@pytest.fixture(scope="module")
def small(rocket_splits):
    """Every third training window: an SVM and MiniRocket fit in seconds."""
    train = rocket_splits.train
    return train.X[::3], train.y[::3], rocket_splits


def test_ensemble_log_odds_are_the_mean_of_its_members(small, tmp_path):
    pytest.importorskip("aeon")
    X, y, splits = small
    ensemble = HandClassifier("ensemble", members="svm,rocket", seed=3).fit(X, y)
    members = [HandClassifier(name, seed=3).fit(X, y) for name in ("svm", "rocket")]
    test = splits.test.X
    expected = np.mean([m.decision_function(test) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.decision_function(test), expected, rtol=1e-9)
    path = save_model(tmp_path / "ensemble.safetensors", ensemble, splits.config)
    loaded = load_model(path)
    assert loaded.classifier.state_.settings["members"] == ["svm", "rocket"]
    np.testing.assert_allclose(loaded.classifier.decision_function(test), expected, rtol=1e-9)


@pytest.mark.parametrize(("members", "message"), [
    ("svm", "at least two members"),
    ("svm,ensemble", "cannot hold an ensemble"),
    ("svm,transformer", "unknown model family 'transformer'"),
])
def test_ensemble_members_are_checked(members, message):
    with pytest.raises(ValueError, match=message):
        HandClassifier("ensemble", members=members).check_params()


def test_ensemble_takes_the_longest_minimum_window_and_its_own_stride():
    clf = HandClassifier("ensemble", members="svm,rocket")
    assert clf.min_window() == 9  # MiniRocket's
    assert clf.window_config(window=200).stride == 50


def test_ensemble_without_rocket_does_not_need_aeon(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "aeon.transformations.collection.convolution_based", None)
    HandClassifier("ensemble", members="svm,gru").check_available()
    from deepmouse.families import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="needs aeon"):
        HandClassifier("ensemble").check_available()


def test_ensemble_members_are_restored_with_the_parameters_they_were_fitted_with(small,
                                                                                 tmp_path):
    """A member with training history (a small GRU) and an SVM: saved parameters are used when
    loading, whatever the member family's defaults are then."""
    from deepmouse.families import get_family

    X, y, splits = small
    ensemble = HandClassifier("ensemble", members="gru,svm").fit(X[::4], y[::4])
    assert ensemble.history_ and ensemble.state_.settings["params"][0]["hidden"] == 64
    path = save_model(tmp_path / "e.safetensors", ensemble, splits.config)
    gru = get_family("gru")
    monkeypatch_defaults = gru.spec.defaults
    try:
        gru.defaults = monkeypatch_defaults | {"hidden": 8}
        loaded = load_model(path)
    finally:
        gru.defaults = monkeypatch_defaults
    np.testing.assert_allclose(loaded.classifier.decision_function(splits.test.X),
                               ensemble.decision_function(splits.test.X), rtol=1e-6)


def test_default_run_is_the_ensemble_on_overlapping_windows():
    from deepmouse.families import DEFAULT_FAMILY
    from deepmouse.pipeline import RunConfig

    config = RunConfig(dataset="unused")
    assert config.classifier().family == DEFAULT_FAMILY == "ensemble"
    assert config.resolved_params()["members"] == "stroke-cnn,rocket"
    assert config.window_config().stride == 50  # window / 4
    assert RunConfig(dataset="unused", stride=20).window_config().stride == 20


def test_a_members_parameter_given_to_the_ensemble_says_where_it_belongs(synth_dataset,
                                                                          tmp_path):
    from conftest import assert_clean_error, cli

    out = tmp_path / "run"
    assert_clean_error(cli("train", synth_dataset, "--epochs", "3", "--out", out),
                       "takes no parameter epochs", "--model stroke-cnn")
    assert_clean_error(cli("tune", synth_dataset, "--out", out),
                       "no search space of its own", "--model stroke-cnn")
    assert not out.exists()


def test_an_interrupted_ensemble_fit_resumes_from_its_members_checkpoints(small, tmp_path):
    """Each member checkpoints beside the ensemble's checkpoint; a second fit given the same
    checkpoint trains no epoch of the member that had finished, and ends where the first did."""
    from deepmouse.families import get_family
    from deepmouse.pipeline import remove_checkpoints

    X, y, _ = small
    family = get_family("ensemble")
    params = family.parameters() | {"members": "gru,svm"}
    checkpoint = tmp_path / "checkpoint.safetensors"
    epochs: list[int] = []
    first = family.fit(X[::16], y[::16], params, on_epoch=lambda row: epochs.append(row["epoch"]),
                       checkpoint=checkpoint)
    assert epochs and (tmp_path / "checkpoint.member0.safetensors").is_file()
    epochs.clear()
    again = family.fit(X[::16], y[::16], params, on_epoch=lambda row: epochs.append(row["epoch"]),
                       checkpoint=checkpoint)
    assert epochs == []
    for name, value in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], value)
    (tmp_path / "keep.safetensors").touch()
    remove_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.safetensors"]
