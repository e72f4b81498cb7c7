"""The command line: exit codes, one-line errors, JSON output.

Most commands run in this process (``conftest.cli``); the entry point itself runs as a real
subprocess in the tests that say so.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import TINY_ARGS, assert_clean_error, cli, entry_point, write_csv


def test_the_entry_point_lists_the_commands():
    result = entry_point("--help")
    assert result.returncode == 0, result.stderr
    for command in ("demo", "record", "data", "train", "evaluate", "live", "sweep", "tune",
                    "report"):
        assert command in result.stdout
    data = cli("data", "--help")
    for command in ("synth", "download", "inspect"):
        assert command in data.stdout


def test_synth_train_evaluate_json_agree_on_the_test_split(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    assert cli("data", "synth", data, "--minutes", "5", "--seed", "3").exit_code == 0
    result = cli("train", data, "--out", run, "--json", *TINY_ARGS)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"dev", "test", "windows"} <= set(metrics)
    for name in ("model.safetensors", "history.csv", "metrics.json", "config.json",
                 "curves.png", "confusion.png", "reliability.png"):
        assert (run / name).is_file(), name
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2  # header + 2 epochs
    assert not (run / "checkpoint.safetensors").exists()  # removed once the run is complete
    # the real entry point, on the model just written: the test split scored again gives the
    # numbers train reported
    result = entry_point("evaluate", run / "model.safetensors", data, "--split", "test", "--json")
    assert result.returncode == 0, result.stderr
    test = json.loads(result.stdout)
    assert test["n_windows"] == sum(metrics["windows"]["test"].values())
    for key in ("accuracy", "loss", "roc_auc"):
        assert test[key] == pytest.approx(metrics["test"][key]), key
    assert test["confusion"] == metrics["test"]["confusion"]
    assert test["decision_accuracy"] == metrics["test"]["decision_accuracy"]
    everything = json.loads(cli("evaluate", run / "model.safetensors", data, "--split", "all",
                                "--json").stdout)
    assert set(everything["decision_accuracy"]) == {"2", "5", "10", "30"}
    assert everything["n_windows"] > test["n_windows"]


@pytest.fixture
def bad_dataset(tmp_path):
    """A dataset whose left recording has a bad line in the middle."""
    write_csv(tmp_path / "right" / "r.txt", [f"{i},{i}" for i in range(3000)])
    lines = [f"{i},{2 * i}" for i in range(3000)]
    lines[41] = "7,NaN"
    write_csv(tmp_path / "left" / "l.txt", lines)
    return tmp_path


def test_bad_input_gives_one_line_and_status_2(tmp_path, bad_dataset):
    out = tmp_path / "run"
    assert_clean_error(cli("train", bad_dataset, "--out", out), "l.txt:42", "NaN")
    assert not out.exists()  # nothing half-written
    assert_clean_error(cli("train", tmp_path / "nope"), "no such dataset folder")
    only_left = tmp_path / "only_left"
    write_csv(only_left / "left" / "l.txt", ["1,2", "3,4"])
    assert_clean_error(cli("train", only_left), "class 'right' has no recordings")
    short = tmp_path / "short"
    for hand in ("left", "right"):
        write_csv(short / hand / "s.txt", [f"{i},{i}" for i in range(300)])
    assert_clean_error(cli("train", short, "--window", "200"), "longer than the recording")
    assert_clean_error(cli("train", short, "--model", "transformer"), "unknown model family")
    assert_clean_error(cli("train", short, "--split", "bogus"), "unknown split")
    assert_clean_error(cli("train", short, "--model", "svm", "--epochs", "3"),
                       "the svm family takes no parameter epochs")
    assert_clean_error(cli("train", short, "--param", "C"), "--param 'C'", "expected NAME=VALUE")
    assert_clean_error(cli("train", short, "--model", "stroke-cnn", "--param", "hidden=abc"),
                       "hidden of the stroke-cnn family must be an integer")


def test_an_error_message_keeps_its_brackets(tmp_path):
    """Rich markup is escaped: a message with [brackets] is printed as it is."""
    folder = tmp_path / "[weird]"
    assert_clean_error(cli("train", folder), "[weird]", "no such dataset folder")


def test_unknown_model_file_gives_one_line(tmp_path, synth_dataset):
    fake = tmp_path / "model.safetensors"
    fake.write_text("hello")
    assert_clean_error(cli("evaluate", fake, synth_dataset), "not a deepmouse model")
    assert_clean_error(cli("evaluate", tmp_path / "none.safetensors", synth_dataset),
                       "no such model file")


def test_download_from_mirror_and_unknown_name(tmp_path, shared_data):
    env = {"DEEPMOUSE_DATA_MIRROR": str(shared_data), "DEEPMOUSE_CACHE": str(tmp_path / "c")}
    result = cli("data", "download", "deepmouse-touchpad", "--dest", tmp_path / "tp", env=env)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tp" / "left" / "left.txt").is_file()
    assert_clean_error(cli("data", "download", "nope", env=env), "nope")


def test_a_window_too_short_for_the_model_is_one_line(synth_dataset, tmp_path, monkeypatch):
    """conv-gru halves the window 3 times, MiniRocket's kernels span 9 steps: refused up front
    (also where aeon is not installed)."""
    import sys

    monkeypatch.setitem(sys.modules, "aeon.transformations.collection.convolution_based", None)
    for model, window, fragment in (("conv-gru", "4", "at least 8 steps"),
                                    ("rocket", "5", "at least 9 steps")):
        out = tmp_path / model
        extra = ["--epochs", "1"] if model == "conv-gru" else []
        result = cli("train", synth_dataset, "--model", model, "--window", window, *extra,
                     "--out", out)
        assert_clean_error(result, fragment)
        assert not out.exists()


def test_demo_synthesises_trains_the_default_model_and_reports_the_test_split(tmp_path):
    result = cli("demo", "--out", tmp_path, "--minutes", "4")
    assert result.exit_code == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["family"] == "ensemble" and config["split"] == "chrono"
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert "ensemble: dev and test (chrono split)" in result.stdout
    report = tmp_path / "report.html"  # the demo ends with its run's report, and says where
    assert f"report: {report}" in " ".join(result.stdout.split())
    assert "data:image/png;base64," in report.read_text()


def test_tune_on_postgresql_without_its_driver_names_the_extra(synth_dataset, tmp_path,
                                                               monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed: import fails
    assert_clean_error(cli("tune", synth_dataset, "--model", "svm", "--trials", "1", "--storage",
                           "postgresql://nobody@127.0.0.1:1/none", "--out", tmp_path),
                       "pip install 'deepmouse[postgres]'")


def test_evaluate_reports_the_sequential_decision_and_the_change_of_hand(tiny_run, synth_dataset,
                                                                         tmp_path):
    from deepmouse.decision import DecisionModel
    from deepmouse.modelfile import load_model, save_model

    model = load_model(tiny_run.model_path)
    path = save_model(tmp_path / "m.safetensors", model.classifier, model.window_config,
                      model.provenance, DecisionModel(mu=0.5, sigma2=1.0, tau2=0.1))
    result = cli("evaluate", path, synth_dataset, "--split", "all", "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    sequential = metrics["sequential"]
    assert sequential["threshold"] == 0.95 and sequential["trials"] > 0
    assert set(sequential) >= {"decided", "accuracy", "median_seconds", "ece", "curve"}
    assert set(metrics["switch"]) == {"trials", "followed", "median_seconds"}
    assert metrics["switch"]["trials"] == 2  # right then left, left then right
    stricter = json.loads(cli("evaluate", path, synth_dataset, "--split", "all", "--threshold",
                              "0.99", "--json").stdout)["sequential"]
    assert stricter["threshold"] == 0.99 and stricter["decided"] <= sequential["decided"]
    assert_clean_error(cli("evaluate", path, synth_dataset, "--threshold", "0.4"),
                       "--threshold must be in (0.5, 1)")


def test_nan_and_infinity_in_an_option_are_refused_by_name(tmp_path):
    assert_clean_error(cli("train", tmp_path, "--lr", "nan"), "--lr: expected a finite number")
    assert_clean_error(cli("data", "synth", tmp_path / "d", "--minutes", "inf"),
                       "--minutes: expected a finite number, got inf")
    assert_clean_error(cli("live", tmp_path, "--hop", "-inf"), "--hop: expected a finite number")
    assert not (tmp_path / "d").exists()


def test_running_out_of_memory_is_one_line(tmp_path, monkeypatch):
    import deepmouse.synth

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.00 PiB for an array")

    monkeypatch.setattr(deepmouse.synth, "synthesize_dataset", too_big)
    assert_clean_error(cli("data", "synth", tmp_path / "d"),
                       "not enough memory: Unable to allocate 1.00 PiB")


def test_demo_never_deletes_a_data_folder_it_did_not_write(tmp_path):
    mine = write_csv(tmp_path / "data" / "left" / "mine.csv", ["1,2", "3,4"])
    assert_clean_error(cli("demo", "--out", tmp_path, "--minutes", "1"),
                       "is not a synthetic dataset; choose another --out")
    assert mine.is_file()
