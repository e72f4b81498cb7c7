"""A few tests on the real DeepMouse recordings in ../shared/data/deepmouse."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY

from deepmouse.evaluate import evaluate_model
from deepmouse.modelfile import load_model
from deepmouse.pipeline import RunConfig, train_run
from deepmouse.recordings import load_dataset
from deepmouse.windows import WindowConfig, make_splits


def test_touchpad_recordings_read_as_headerless(shared_data):
    ds = load_dataset(shared_data / "touchpad")
    assert [r.n_samples for r in ds.recordings] == [60000, 60000]
    assert not any(r.has_time for r in ds.recordings)
    assert [r.path.parent.name for r in ds.recordings] == ["right", "left"]


def test_chrono_split_of_the_touchpad(shared_data):
    ds = load_dataset(shared_data / "touchpad")
    splits = make_splits(ds, WindowConfig(window=200), "chrono")
    table = splits.table()
    n_train = sum(table["train"].values())
    n_test = sum(table["test"].values())
    # 300 windows per hand; ~30% of the touchpad time is idle (reading)
    assert 250 < n_train < 420 and 40 < n_test < 95
    assert all(n > 0 for counts in table.values() for n in counts.values())


def test_mouse_session_split_rotates_whole_sessions(shared_data):
    ds = load_dataset(shared_data / "mouse")
    assert len(ds.by_label(0)) == len(ds.by_label(1)) == 6
    held = set()
    for seed in range(4):
        splits = make_splits(ds, WindowConfig(window=800), "session", seed=seed)
        test = set(splits.test.recording.tolist())
        assert not test & set(splits.train.recording.tolist())
        held |= test
    assert len(held) > 2  # different seeds hold out different sessions


@pytest.mark.slow
def test_train_on_touchpad_and_evaluate_on_mouse(shared_data, tmp_path):
    result = train_run(RunConfig(dataset=str(shared_data / "touchpad"), out=str(tmp_path),
                                 params=TINY | {"epochs": 3}))
    model = load_model(result.model_path)
    test = evaluate_model(model, load_dataset(shared_data / "touchpad"), "test")
    assert test["n_windows"] == sum(result.split_table["test"].values())
    mouse = evaluate_model(model, load_dataset(shared_data / "mouse"), "all")
    assert mouse["n_windows"] > 1000
    assert np.isclose(sum(map(sum, mouse["confusion"])), mouse["n_windows"])


@pytest.mark.slow
def test_stroke_cnn_scores_a_mouse_session_it_never_saw(shared_data, tmp_path):
    """Train stroke-cnn (3 epochs: the default ensemble's network, shortened) through the CLI
    on five mouse session pairs, then ``deepmouse evaluate MODEL NEW_DATASET --split all`` on
    the pair it never saw (r2, l2)."""
    import json

    from conftest import cli

    known, new = tmp_path / "known", tmp_path / "new"
    for hand in ("right", "left"):
        for source in sorted((shared_data / "mouse" / hand).glob("*.txt")):
            target = (new if source.stem[1:] == "2" else known) / hand / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)

    def deepmouse(*args):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    deepmouse("train", known, "--out", tmp_path / "run", "--model", "stroke-cnn", "--split",
              "session", "--stride", 50, "--epochs", 3, "--device", "cpu", "--json")
    unseen = deepmouse("evaluate", tmp_path / "run" / "model.safetensors", new, "--split", "all",
                       "--json")
    assert unseen["n_windows"] > 250  # 2 sessions of 5 minutes, idle windows dropped
    assert unseen["accuracy"] > 0.65
    assert unseen["decision_accuracy"]["10"] > 0.8
