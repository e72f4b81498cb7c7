"""The command line: real subprocesses, exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_csv

TINY_ARGS = ["--model", "gru", "--hidden", "8", "--epochs", "2", "--device", "cpu"]


def deepmouse(*args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "deepmouse", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
    )


def assert_clean_error(result, *fragments: str) -> None:
    """Exit status 2, no traceback, one line naming the problem."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_the_commands():
    result = deepmouse("--help")
    assert result.returncode == 0
    for command in ("demo", "record", "data", "train", "evaluate", "live"):
        assert command in result.stdout
    data = deepmouse("data", "--help")
    for command in ("synth", "download", "inspect"):
        assert command in data.stdout


def test_synth_train_evaluate_json(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    assert deepmouse("data", "synth", data, "--minutes", "5", "--seed", "3").returncode == 0
    result = deepmouse("train", data, "--out", run, "--json", *TINY_ARGS)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"dev", "test", "windows"} <= set(metrics)
    for name in ("model.safetensors", "history.csv", "metrics.json", "config.json",
                 "curves.png", "confusion.png"):
        assert (run / name).is_file(), name
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2  # header + 2 epochs
    assert not (run / "checkpoint.safetensors").exists()  # removed once the run is complete
    for split in ("test", "all"):
        result = deepmouse("evaluate", run / "model.safetensors", data, "--split", split, "--json")
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert set(out) >= {"accuracy", "n_windows", "loss", "roc_auc", "confusion",
                            "decision_accuracy"}
        assert set(out["decision_accuracy"]) == {"2", "5", "10", "30"}
        assert 0.0 <= out["accuracy"] <= 1.0
    assert json.loads(deepmouse("evaluate", run / "model.safetensors", data,
                                "--split", "test", "--json").stdout)["n_windows"] == sum(
        metrics["windows"]["test"].values())


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
    assert_clean_error(deepmouse("train", bad_dataset, "--out", out), "l.txt:42", "NaN")
    assert not out.exists()  # nothing half-written
    assert_clean_error(deepmouse("train", tmp_path / "nope"), "no such dataset folder")
    only_left = tmp_path / "only_left"
    write_csv(only_left / "left" / "l.txt", ["1,2", "3,4"])
    assert_clean_error(deepmouse("train", only_left), "class 'right' has no recordings")
    short = tmp_path / "short"
    for hand in ("left", "right"):
        write_csv(short / hand / "s.txt", [f"{i},{i}" for i in range(300)])
    assert_clean_error(deepmouse("train", short, "--window", "200"), "longer than the recording")
    assert_clean_error(deepmouse("train", short, "--model", "transformer"), "unknown model")
    assert_clean_error(deepmouse("train", short, "--split", "bogus"), "unknown split")


def test_unknown_model_file_gives_one_line(tmp_path, synth_dataset):
    fake = tmp_path / "model.safetensors"
    fake.write_text("hello")
    assert_clean_error(deepmouse("evaluate", fake, synth_dataset), "not a deepmouse model")
    assert_clean_error(deepmouse("evaluate", tmp_path / "none.safetensors", synth_dataset),
                       "no such model file")


def test_download_from_mirror_and_unknown_name(tmp_path, shared_data):
    env = {"DEEPMOUSE_DATA_MIRROR": str(shared_data), "DEEPMOUSE_CACHE": str(tmp_path / "c"),
           "PATH": "/usr/bin:/bin"}
    result = deepmouse("data", "download", "deepmouse-touchpad", "--dest", tmp_path / "tp", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tp" / "left" / "left.txt").is_file()
    assert_clean_error(deepmouse("data", "download", "nope", env=env), "nope")


def test_a_window_too_short_for_the_model_is_one_line(synth_dataset, tmp_path):
    """conv-gru halves the window 3 times, MiniRocket's kernels span 9 steps: refused up front."""
    for model, window, fragment in (("conv-gru", "4", "at least 8 steps"),
                                    ("rocket", "5", "at least 9 steps")):
        out = tmp_path / model
        result = deepmouse("train", synth_dataset, "--model", model, "--window", window,
                           "--epochs", "1", "--out", out)
        assert_clean_error(result, fragment)
        assert not out.exists()
