"""Sweeps and Optuna tuning, on tiny models and synthetic data; dev split only."""

from __future__ import annotations

import csv
import json

import numpy as np
import optuna
import pytest
from conftest import TINY

from deepmouse.pipeline import RunConfig
from deepmouse.search import parse_grid, sweep, tune


def test_parse_grid():
    assert parse_grid(["lr=1e-3,0.01", "batch-size=16,32", "model=gru"]) == {
        "lr": [0.001, 0.01], "batch_size": [16, 32], "model": ["gru"]}
    with pytest.raises(ValueError, match="NAME=V1,V2"):
        parse_grid(["lr"])


def test_sweep_averages_seeds_and_resumes(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    seen = []
    summary = sweep(config, {"lr": [1e-2, 1e-3]}, [0, 1], tmp_path, on_trial=seen.append)
    assert len(seen) == 4
    assert {json.dumps(s["params"]) for s in summary} == {'{"lr": 0.01}', '{"lr": 0.001}'}
    assert all(s["n_seeds"] == 2 for s in summary)
    assert summary[0]["dev_accuracy_mean"] >= summary[1]["dev_accuracy_mean"]
    for name in ("sweep.csv", "sweep_history.csv", "sweep.json", "sweep.png"):
        assert (tmp_path / name).is_file()
    # interrupted and re-run: only the missing trial (a new seed) is trained
    seen.clear()
    summary = sweep(config, {"lr": [1e-2, 1e-3]}, [0, 1, 2], tmp_path, on_trial=seen.append)
    assert len(seen) == 2 and all(s["n_seeds"] == 3 for s in summary)


def test_sweep_refuses_unknown_parameters(synth_dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown parameter"):
        sweep(RunConfig(dataset=str(synth_dataset)), {"nope": [1]}, [0], tmp_path)


def test_tune_runs_until_the_study_holds_n_trials_and_continues_it(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = tune(config, 2, tmp_path, storage=storage, study_name="s")
    assert first["n_trials"] == 2 and set(first["best_params"]) >= {"hidden", "lr", "dropout"}
    again = tune(config, 2, tmp_path, storage=storage, study_name="s")
    assert again["n_trials"] == 2 and len(optuna.load_study(study_name="s",
                                                            storage=storage).trials) == 2
    second = tune(config, 3, tmp_path, storage=storage, study_name="s")
    assert second["n_trials"] == 3
    study = optuna.load_study(study_name="s", storage=storage)
    assert all(0 <= t.value <= 1 for t in study.trials)
    written = json.loads((tmp_path / "tune.json").read_text())
    assert written["n_trials"] == 3
    # every finished trial, the two of the first call among them, with its scores
    assert sorted(t["number"] for t in written["trials"]) == [0, 1, 2]
    by_number = {t.number: t for t in study.trials}
    for trial in written["trials"]:
        assert trial["dev_accuracy"] == by_number[trial["number"]].value
        assert trial["params"] == by_number[trial["number"]].params
        assert trial["dev_loss"] > 0 and trial["seconds"] >= 0


def test_search_space_follows_the_family():
    from deepmouse.families import get_family

    fixed = optuna.trial.FixedTrial({"hidden": 32, "lr": 1e-3, "dropout": 0.1, "conv_layers": 5,
                                     "augment": 0.2, "C": 1.0, "gamma": 0.01, "n_kernels": 5000})
    assert set(get_family("stroke-cnn").search_space(fixed)) == {
        "hidden", "lr", "dropout", "conv_layers", "augment"}
    assert set(get_family("gru").search_space(fixed)) == {"hidden", "lr", "dropout"}
    assert set(get_family("svm").search_space(fixed)) == {"C", "gamma"}
    assert set(get_family("rocket").search_space(fixed)) == {"n_kernels"}


def test_tune_with_the_same_seed_on_a_new_study_draws_the_same_trials(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    drawn = []
    for name in ("a", "b"):
        tune(config, 2, tmp_path / name)
        study = optuna.load_study(study_name="deepmouse",
                                  storage=f"sqlite:///{tmp_path / name / 'optuna.db'}")
        drawn.append([t.params for t in study.trials])
    assert drawn[0] == drawn[1] and drawn[0][0] != drawn[0][1]


def test_sweep_varies_the_window_and_the_amount_of_training_data(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    summary = sweep(config, {"window": [50, 100], "train_size": [0.25, 1.0]}, [0], tmp_path)
    assert {(s["params"]["window"], s["params"]["train_size"]) for s in summary} == {
        (50, 0.25), (50, 1.0), (100, 0.25), (100, 1.0)}
    rows = {(json.loads(r["params"])["window"], json.loads(r["params"])["train_size"]):
            int(r["train_windows"]) for r in csv.DictReader(open(tmp_path / "sweep.csv"))}
    assert rows[(50, 1.0)] > rows[(100, 1.0)]  # shorter windows: more of them
    for window in (50, 100):
        assert rows[(window, 0.25)] == pytest.approx(0.25 * rows[(window, 1.0)], abs=2)
    assert (tmp_path / "sweep_grid.png").stat().st_size > 0  # the heat map of two parameters


def test_a_one_parameter_sweep_draws_accuracy_against_it(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    sweep(config, {"train_size": [0.5, 1.0]}, [0, 1], tmp_path)
    assert (tmp_path / "sweep_grid.png").stat().st_size > 0


def test_training_subset_is_a_share_of_each_hand_drawn_by_the_seed():
    from deepmouse.search import training_subset

    y = np.array([0] * 80 + [1] * 20)
    kept = training_subset(y, 0.25, seed=3)
    assert (np.bincount(y[kept]) == [20, 5]).all()
    assert np.array_equal(kept, training_subset(y, 0.25, seed=3))
    assert not np.array_equal(kept, training_subset(y, 0.25, seed=4))
    assert np.array_equal(training_subset(y, 1.0, seed=3), np.arange(100))


@pytest.mark.parametrize("grid, problem", [
    ({"train_size": [0]}, "train_size"), ({"train_size": [1.5]}, "train_size"),
    ({"train_size": ["all"]}, "train_size"), ({"window": [1]}, "window"),
    ({"window": [0.5]}, "window"),
])
def test_bad_run_values_in_a_grid_are_refused_before_training(grid, problem, synth_dataset,
                                                              tmp_path):
    with pytest.raises(ValueError, match=problem):
        sweep(RunConfig(dataset=str(synth_dataset), params=TINY), grid, [0], tmp_path)
    assert not (tmp_path / "sweep.csv").exists()


def test_tune_draws_its_history_importances_and_response_surface(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), window=50, params={"family": "svm"})
    tune(config, 5, tmp_path)
    for name in ("tune_history.png", "tune_importance.png", "tune_surface.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_tune_points_are_the_finished_trials_in_log_space_where_sampled_so():
    from deepmouse.search import tune_points

    study = optuna.create_study(direction="maximize")
    space = {"C": optuna.distributions.FloatDistribution(1e-2, 1e3, log=True),
             "gamma": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)}
    for C, gamma, value in ((1.0, 1e-3, 0.6), (100.0, 1e-2, 0.7)):
        study.add_trial(optuna.trial.create_trial(params={"C": C, "gamma": gamma}, value=value,
                                                  distributions=space))
    names, X, accuracy, logs = tune_points(study)
    assert names == ["C", "gamma"] and logs == [True, True]
    np.testing.assert_allclose(X, [[0.0, -3.0], [2.0, -2.0]])
    np.testing.assert_allclose(accuracy, [0.6, 0.7])


def test_a_second_sweep_in_the_same_folder_summarises_its_own_grid(synth_dataset, tmp_path):
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    sweep(config, {"lr": [1e-2, 1e-3]}, [0], tmp_path)
    summary = sweep(config, {"batch_size": [8, 16]}, [0], tmp_path)
    assert [sorted(s["params"]) for s in summary] == [["batch_size"], ["batch_size"]]
    assert json.loads((tmp_path / "sweep.json").read_text()) == summary
