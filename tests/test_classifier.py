"""Networks and the scikit-learn estimator, really trained on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY
from sklearn.model_selection import StratifiedKFold, cross_val_score

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
    net = build_model(ModelConfig(kind=kind, hidden=8, conv_layers=conv, conv_filters=8,
                                  dropout=0.2, l1=1e-3))
    out = net(torch.randn(5, 200, 2))
    assert out.shape == (5,)
    assert net.recurrent_penalty().item() > 0


def test_bad_architecture_is_refused():
    with pytest.raises(ValueError, match="conv_layers must be 0-3"):
        ModelConfig(kind="conv-gru", hidden=8, dropout=0.1, conv_layers=4, conv_filters=8)
    with pytest.raises(ValueError, match="unknown network"):
        ModelConfig(kind="transformer", hidden=8, dropout=0.1)


@pytest.fixture(scope="module")
def overlapping_splits(synth_dataset):
    """Train windows every 20 steps (as the default model trains), dev and test never overlap."""
    return make_splits(load_dataset(synth_dataset), WindowConfig(window=200, stride=20), "chrono")


def test_fit_keeps_the_best_dev_epoch_and_beats_chance_on_dev(overlapping_splits):
    from scipy.stats import binomtest

    splits = overlapping_splits
    clf = HandClassifier(family="stroke-cnn", hidden=8, conv_layers=2, epochs=3, device="cpu")
    assert clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y) is clf
    history = clf.history_
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]
    # the kept epoch is the one with the lowest dev loss
    assert clf.best_epoch_ == 1 + int(np.argmin([r["dev_loss"] for r in history]))
    correct = int((clf.predict(splits.dev.X) == splits.dev.y).sum())
    assert binomtest(correct, len(splits.dev), 0.5, alternative="greater").pvalue < 0.05
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


def test_early_stopping_stops_before_the_last_epoch(splits):
    clf = HandClassifier(**TINY | {"epochs": 40, "patience": 1, "lr": 0.05})
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    assert len(clf.history_) < 40


def test_cross_val_score_clones_and_scores_each_held_out_fold(splits):
    """Inside scikit-learn: the same scores as fitting a fresh estimator per fold by hand."""
    X, y = splits.train.X, splits.train.y
    scores = cross_val_score(HandClassifier(**TINY), X, y, cv=2)
    by_hand = [HandClassifier(**TINY).fit(X[fit], y[fit]).score(X[held], y[held])
               for fit, held in StratifiedKFold(2).split(X, y)]
    np.testing.assert_allclose(scores, by_hand)


def test_svm_probabilities_on_new_sessions_match_observed_frequencies(
    overlapping_splits, tmp_path_factory
):
    """Platt-calibrated: on sessions never seen, predicted P(left) matches how often it is the
    left hand (expected calibration error over 5 bins), and beats the uninformed 0.5."""
    from deepmouse.synth import synthesize_dataset
    from deepmouse.windows import all_windows

    splits = overlapping_splits
    clf = HandClassifier(family="svm").fit(splits.train.X, splits.train.y)
    new = synthesize_dataset(tmp_path_factory.mktemp("svm") / "new", minutes=12, seed=7,
                             sessions=2)
    held = all_windows(load_dataset(new), WindowConfig(window=200))
    p, y = clf.predict_proba(held.X)[:, 1], held.y
    bins = np.clip((p * 5).astype(int), 0, 4)
    ece = sum((bins == b).mean() * abs(p[bins == b].mean() - y[bins == b].mean())
              for b in np.unique(bins))
    assert len(y) > 300 and ece < 0.05
    assert np.mean((p - y) ** 2) < 0.25  # Brier score below the constant 0.5's


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


def test_predict_refuses_another_window_length(splits):
    clf = HandClassifier(**TINY).fit(splits.train.X, splits.train.y)
    with pytest.raises(ValueError, match="expects windows of 200 steps"):
        clf.predict_proba(np.zeros((2, 100, 2)))


def test_windows_too_short_for_the_architecture_are_refused():
    X = np.random.default_rng(0).normal(size=(8, 4, 2)).astype(np.float32)
    y = np.repeat([0, 1], 4)
    with pytest.raises(ValueError, match="at least 8 steps"):
        HandClassifier(family="conv-gru", epochs=1).fit(X, y)
    HandClassifier(family="conv-gru", conv_layers=2, hidden=4, epochs=1, device="cpu").fit(X, y)


def test_handclassifier_on_its_window_config_is_the_model_train_run_fits(synth_dataset,
                                                                         tmp_path):
    """HandClassifier(family) on its own window_config() is what ``deepmouse train`` (train_run)
    fits: the same windows, the same probabilities."""
    from deepmouse.pipeline import RunConfig, train_run

    params = {"family": "stroke-cnn", "epochs": 1, "hidden": 4, "conv_layers": 1,
              "device": "cpu"}
    run = train_run(RunConfig(dataset=str(synth_dataset), out=str(tmp_path), params=params),
                    plots=False)
    clf = HandClassifier(**params)
    config = clf.window_config()
    assert config == run.classifier.window_config() and config.stride == config.window // 10
    splits = make_splits(load_dataset(synth_dataset), config, "chrono")
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    np.testing.assert_array_equal(clf.predict_proba(splits.test.X),
                                  run.classifier.predict_proba(splits.test.X))


def test_parameters_follow_the_family():
    """get_params lists the family's parameters; one it does not take is refused."""
    assert set(HandClassifier("svm").get_params()) == {"family", "seed", "C", "gamma"}
    assert HandClassifier("svm", C=3.0).resolved_params() == {"seed": 0, "C": 3.0,
                                                              "gamma": "scale"}
    with pytest.raises(ValueError, match="takes no parameter hidden"):
        HandClassifier("svm", hidden=8).resolved_params()
    with pytest.raises(ValueError, match="takes no parameter"):
        HandClassifier("svm").set_params(epochs=3)
    with pytest.raises(ValueError, match="unknown model family 'transformer'"):
        HandClassifier("transformer").resolved_params()
    assert repr(HandClassifier("svm", C=3.0)) == "HandClassifier(family='svm', C=3.0)"
    with pytest.raises(ValueError, match="family=..., not model="):
        HandClassifier(model="svm").resolved_params()
    with pytest.raises(ValueError, match="not a parameter name"):
        HandClassifier(fit=1)


@pytest.mark.parametrize(("params", "message"), [
    ({"family": "stroke-cnn", "hidden": "abc"},
     "hidden of the stroke-cnn family must be an integer"),
    ({"family": "stroke-cnn", "epochs": 2.5},
     "epochs of the stroke-cnn family must be an integer"),
    ({"seed": True}, "seed of the ensemble family must be an integer"),
    ({"threads": 1.5}, "threads of the ensemble family must be an integer"),
    ({"family": "svm", "C": "x"}, "C of the svm family must be a number"),
    ({"family": "svm", "gamma": "x"}, "gamma must be scale, auto or a number"),
    ({"family": "gru", "l1": float("nan")}, "l1 of the gru family must be a finite number"),
    ({"family": "svm", "C": float("inf")}, "C of the svm family must be a finite number"),
    ({"seed": -1}, r"seed must be an integer in \[0, 4294967295\]"),
    ({"seed": 2**32}, r"seed must be an integer in \[0, 4294967295\]"),
    ({"seed": 2**70}, r"seed must be an integer in \[0, 4294967295\]"),
])
def test_parameters_of_the_wrong_type_are_refused_by_name(params, message):
    with pytest.raises(ValueError, match=message):
        HandClassifier(**params).check_params()


def test_switching_family_drops_the_old_familys_unset_parameters():
    from sklearn.base import clone

    clf = clone(HandClassifier()).set_params(family="svm", C=2.0)
    assert set(clf.get_params()) == {"family", "seed", "C", "gamma"}
    with pytest.raises(ValueError, match="takes no parameter 'hidden'"):
        clone(HandClassifier()).set_params(family="svm", hidden=3)
