"""``deepmouse train --params FILE``: what ``tune`` found is what ``train`` trains; any other
file is read correctly or refused with one line."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_ARGS, assert_clean_error, cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmouse.recordings import DataError
from deepmouse.search import read_params_file


def test_train_with_the_tune_file_trains_the_winner_with_the_settings_it_was_tuned_with(
        synth_dataset, tmp_path):
    tuned = cli("tune", synth_dataset, "--model", "svm", "--window", "50", "--trials", "3",
                "--out", tmp_path / "tune", "--json")
    assert tuned.exit_code == 0, tuned.stderr
    best = json.loads(tuned.stdout)
    assert best["family"] == "svm" and set(best["best_params"]) == {"C", "gamma"}

    run = tmp_path / "run"
    trained = cli("train", synth_dataset, "--window", "50", "--params", tmp_path / "tune" /
                  "tune.json", "--out", run, "--json")
    assert trained.exit_code == 0, trained.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["family"] == "svm"
    for name, value in best["best_params"].items():
        assert config["resolved_params"][name] == value


def test_options_beside_the_params_file_take_precedence(synth_dataset, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"family": "gru", "hidden": 4, "epochs": 1, "lr": 0.01}))
    run = tmp_path / "run"
    result = cli("train", synth_dataset, "--params", params, "--hidden", "6", "--device", "cpu",
                 "--out", run, "--json")
    assert result.exit_code == 0, result.stderr
    resolved = json.loads((run / "config.json").read_text())["resolved_params"]
    assert (resolved["hidden"], resolved["epochs"], resolved["lr"]) == (6, 1, 0.01)


def test_a_params_file_of_another_family_than_model_is_one_line(synth_dataset, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"family": "svm", "best_params": {"C": 2.0}}))
    assert_clean_error(cli("train", synth_dataset, "--params", params, *TINY_ARGS),
                       "svm family")


@pytest.mark.parametrize("content, problem", [
    (b"", "not a JSON"),
    (b"\xff\xfe{}", "not a JSON"),
    (b'{"C": NaN}', "NaN"),
    (b'{"C": Infinity}', "Infinity"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"C": [1, 2]}', "'C' must be a number, a string or null"),
    (b'{"C": true}', "'C' must be a number, a string or null"),
    (b'{"best_params": 3}', "best_params"),
    (b'{"family": 7, "C": 1}', "family must be a string"),
    (b"[" * 100_000, "not a JSON"),
])
def test_bad_params_files_are_one_line_naming_the_file(content, problem, synth_dataset,
                                                        tmp_path):
    params = tmp_path / "p.json"
    params.write_bytes(content)
    assert_clean_error(cli("train", synth_dataset, "--params", params, *TINY_ARGS),
                       "p.json", problem)


def test_a_params_file_that_is_a_folder_or_missing_is_one_line(synth_dataset, tmp_path):
    for path in (tmp_path, tmp_path / "missing.json"):
        assert_clean_error(cli("train", synth_dataset, "--params", path, *TINY_ARGS),
                           "no such parameters file")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_read_params_file_gives_parameters_or_one_line_naming_the_file(content,
                                                                       tmp_path_factory):
    path = tmp_path_factory.mktemp("params") / "fuzz.json"
    path.write_bytes(content)
    try:
        params = read_params_file(path)
    except DataError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert all(isinstance(k, str) for k in params)
    assert all(v is None or isinstance(v, int | float | str) and not isinstance(v, bool)
               for v in params.values())


def test_a_bad_param_option_is_named_as_such(synth_dataset):
    for value, problem in (("lr", "expected NAME=VALUE"), ("lr=nan", "NaN")):
        assert_clean_error(cli("train", synth_dataset, "--param", value, *TINY_ARGS),
                           f"--param '{value}'", problem)
