"""The family registry: a new family is one module and one ``register`` line.

A toy family, defined here and nowhere else, goes through the public API: trained by the
pipeline and the command line, saved, loaded, evaluated, replayed live, swept, tuned and
reported.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error, cli

from deepmouse.classifier import HandClassifier
from deepmouse.families import FAMILIES, Family, FamilyState, get_family, register, unregister


class MovementLogistic(Family):
    """Logistic regression on five moments of a window's movement."""

    name = "toy-moments"
    summary = "logistic regression on movement moments (a test family)"
    defaults = {"C": 1.0}
    train_stride = 0.5

    def check_params(self, params: dict) -> None:
        if not params["C"] > 0:
            raise ValueError(f"C must be > 0, got {params['C']}")

    def min_window(self, params: dict) -> int:
        return 10

    def search_space(self, trial) -> dict:
        return {"C": trial.suggest_float("C", 0.01, 100.0, log=True)}

    @staticmethod
    def features(X: np.ndarray) -> np.ndarray:
        dx, dy = X[..., 0], X[..., 1]
        return np.stack([dx.mean(1), dy.mean(1), np.abs(dx).mean(1), np.abs(dy).mean(1),
                         (dx * dy).mean(1)], 1)

    def fit(self, X, y, params, dev=None, on_epoch=None, checkpoint=None) -> FamilyState:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=params["C"]).fit(self.features(X), y)
        return FamilyState({"coef": model.coef_[0], "intercept": model.intercept_},
                           settings={"features": 5})

    def restore(self, state: FamilyState, params: dict) -> FamilyState:
        if state.arrays["coef"].shape != (state.settings["features"],):
            raise ValueError("coef does not match the feature count")
        return state

    def log_odds(self, state: FamilyState, X: np.ndarray) -> np.ndarray:
        return self.features(X) @ state.arrays["coef"] + state.arrays["intercept"][0]


@pytest.fixture
def toy():
    family = register(MovementLogistic())
    yield family
    unregister(family.name)


def test_a_registered_family_is_listed_and_unregistered_is_gone(toy):
    assert get_family("toy-moments") is toy
    assert "toy-moments" in FAMILIES
    unregister("toy-moments")
    with pytest.raises(ValueError, match="unknown model family 'toy-moments'"):
        get_family("toy-moments")


def test_toy_family_takes_only_its_parameters(toy):
    clf = HandClassifier("toy-moments", C=0.5)
    assert clf.resolved_params() == {"seed": 0, "C": 0.5}
    with pytest.raises(ValueError, match="takes no parameter hidden"):
        HandClassifier("toy-moments", hidden=8).resolved_params()
    with pytest.raises(ValueError, match="C must be > 0"):
        HandClassifier("toy-moments", C=-1.0).check_params()
    assert clf.window_config(window=100).stride == 50  # the family's train stride
    with pytest.raises(ValueError, match="at least 10 steps"):
        clf.check_window_length(5)


def test_toy_family_trains_saves_loads_evaluates_and_replays(toy, synth_dataset, tmp_path):
    from deepmouse.evaluate import evaluate_model
    from deepmouse.live import run_live
    from deepmouse.modelfile import load_model
    from deepmouse.pipeline import RunConfig, train_run
    from deepmouse.recordings import load_dataset

    result = train_run(RunConfig(dataset=str(synth_dataset), out=str(tmp_path / "run"),
                                 params={"family": "toy-moments", "C": 2.0}))
    assert result.metrics["dev"]["accuracy"] > 0.5  # held-out windows: better than a coin
    model = load_model(result.model_path)
    assert model.classifier.family == "toy-moments"
    assert model.classifier.state_.settings == {"features": 5}
    assert model.window_config.stride == 100  # window/2, the family's stride, recorded
    dataset = load_dataset(synth_dataset)
    dev = evaluate_model(model, dataset, "dev")
    assert dev["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])

    recording = dataset.recordings[0].path
    lines = []

    class Collect:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    last = run_live(result.model_path, replay=recording, speed=0, json_lines=True, out=Collect())
    updates = [json.loads(line) for line in "".join(lines).splitlines()]
    assert updates and last is not None and last.n_windows > 0
    assert all(0.0 <= u["p_left_total"] <= 1.0 for u in updates)


def test_toy_family_through_the_command_line(toy, synth_dataset, tmp_path):
    out = tmp_path / "cli-run"
    result = cli("train", synth_dataset, "--model", "toy-moments", "--param", "C=3",
                 "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "config.json").read_text())["resolved_params"]["C"] == 3
    assert_clean_error(cli("train", synth_dataset, "--model", "toy-moments", "--epochs", "2",
                           "--out", tmp_path / "bad"), "takes no parameter epochs")
    assert not (tmp_path / "bad").exists()


def test_toy_family_is_swept_tuned_and_reported(toy, synth_dataset, tmp_path):
    from deepmouse.pipeline import RunConfig, train_run
    from deepmouse.report import build_report
    from deepmouse.search import sweep, tune

    config = RunConfig(dataset=str(synth_dataset), params={"family": "toy-moments"})
    summary = sweep(config, {"C": [0.1, 10.0]}, [0], tmp_path / "sweep")
    assert sorted(s["params"]["C"] for s in summary) == [0.1, 10.0]
    result = tune(config, 2, tmp_path / "tune", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert result["family"] == "toy-moments" and set(result["best_params"]) == {"C"}
    run = train_run(RunConfig(dataset=str(synth_dataset), out=str(tmp_path / "run"),
                              params={"family": "toy-moments", **result["best_params"]}))
    page = build_report([run.out], tmp_path / "report.html").read_text()
    assert "toy-moments" in page
