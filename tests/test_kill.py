"""Long jobs killed with SIGKILL at a random moment and started again with the same command
finish the remaining work without repeating or losing finished work; two commands writing to
one ``--out`` at once: the second is refused, and a killed one leaves nothing stuck.

The kill moment is drawn from a seeded generator (shown in the test's id), after a random
number of finished trials or epochs and a random extra delay.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, cli, entry_point, finished_trials, start_entry_point

from deepmouse.atomic import LOCK_FILE
from deepmouse.pipeline import RunConfig
from deepmouse.search import sweep

SWEEP_ARGS = ["--grid", "hidden=8", "--grid", "lr=0.01,0.001", "--seeds", "0,1", "--model",
              "gru", "--epochs", "2", "--window", "100"]
TUNE_ARGS = ["--model", "gru", "--epochs", "1", "--window", "50", "--trials", "4"]


def wait_until(condition, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def holds_lock(folder: Path) -> bool:
    """Whether another process holds ``folder``'s lock right now."""
    from filelock import FileLock, Timeout

    if not (folder / LOCK_FILE).exists():
        return False
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def kill_at_random(proc, rng: random.Random, finished, most: int) -> None:
    """SIGKILL ``proc`` once ``finished()`` reaches a random count below ``most``, after a
    random delay (mid-trial, or between a trial's writes, or just after one)."""
    target = rng.randrange(most)
    wait_until(lambda: finished() >= target or proc.poll() is not None, what="finished work")
    time.sleep(rng.uniform(0.0, 1.0))
    proc.kill()
    proc.wait(30)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11])
def test_sweep_killed_at_random_and_rerun_finishes_without_repeating_or_losing_trials(
        seed, synth_dataset, tmp_path):
    out = tmp_path / "sweep"
    command = ["sweep", synth_dataset, *SWEEP_ARGS, "--out", out, "--json"]
    proc = start_entry_point(*command)
    wait_until(lambda: holds_lock(out) or proc.poll() is not None, what="the sweep's lock")
    second = cli(*command)  # the same --out while the first one writes
    assert_clean_error(second, str(out), "another deepmouse command is writing")

    kill_at_random(proc, random.Random(seed), lambda: len(rows(out / "sweep.csv")), most=3)
    before = rows(out / "sweep.csv")
    assert holds_lock(out) is False  # the dead process left no lock behind

    again = entry_point(*command)
    assert again.returncode == 0, again.stderr
    after = rows(out / "sweep.csv")
    keys = [(r["params"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 4  # every trial once
    assert after[:len(before)] == before  # the finished ones kept as they were
    history = rows(out / "sweep_history.csv")
    assert sorted((r["params"], r["seed"], r["epoch"]) for r in history) == sorted(
        (p, s, str(e)) for p, s in keys for e in (1, 2))  # each trial's epochs, once

    reference = sweep(RunConfig(dataset=str(synth_dataset), window=100,
                                params={"family": "gru", "epochs": 2}),
                      {"hidden": [8], "lr": [0.01, 0.001]}, [0, 1], tmp_path / "reference")
    by_params = {json_key(s["params"]): s["dev_accuracy_mean"] for s in reference}
    for summary in json.loads(again.stdout):
        assert summary["dev_accuracy_mean"] == pytest.approx(
            by_params[json_key(summary["params"])], abs=1e-12)


def json_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def complete_trials(out: Path) -> dict[int, tuple[dict, float]]:
    """The finished trials of the study a tune into ``out`` keeps in its default SQLite file."""
    if not (out / "optuna.db").is_file():
        return {}
    return finished_trials(f"sqlite:///{out / 'optuna.db'}")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5])
def test_tune_killed_at_random_and_rerun_finishes_the_study_without_losing_trials(
        seed, synth_dataset, tmp_path):
    out = tmp_path / "tune"
    command = ["tune", synth_dataset, *TUNE_ARGS, "--out", out, "--json"]
    proc = start_entry_point(*command)
    kill_at_random(proc, random.Random(seed), lambda: len(complete_trials(out)), most=3)
    before = complete_trials(out)

    again = entry_point(*command)
    assert again.returncode == 0, again.stderr
    after = complete_trials(out)
    assert len(after) == 4
    assert all(after[number] == trial for number, trial in before.items())  # none lost
    params = [tuple(sorted(p.items())) for p, _ in after.values()]
    assert len(set(params)) == len(params)  # none repeated
    assert json.loads(again.stdout)["n_trials"] == 4


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3])
def test_train_killed_at_random_and_resumed_gives_the_uninterrupted_model(
        seed, synth_dataset, tmp_path):
    from deepmouse.modelfile import load_model
    from deepmouse.recordings import load_dataset
    from deepmouse.windows import all_windows

    args = ["--model", "gru", "--hidden", "8", "--epochs", "4", "--device", "cpu", "--json"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = start_entry_point("train", synth_dataset, "--out", killed, *args)
    wait_until(lambda: (killed / "checkpoint.safetensors").is_file(), what="a checkpoint")
    time.sleep(random.Random(seed).uniform(0.0, 0.5))  # some epoch after the first
    proc.kill()
    proc.wait(30)
    resumed = entry_point("train", synth_dataset, "--out", killed, *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert entry_point("train", synth_dataset, "--out", whole, *args).returncode == 0
    X = all_windows(load_dataset(synth_dataset), load_model(whole / "model.safetensors")
                    .window_config).X
    np.testing.assert_array_equal(load_model(killed / "model.safetensors").predict_proba(X),
                                  load_model(whole / "model.safetensors").predict_proba(X))


def test_a_lock_held_by_a_killed_process_does_not_block_the_folder(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from deepmouse.atomic import folder_lock\n"
                               f"with folder_lock({str(out)!r}):\n"
                               "    print('held', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert holds_lock(out)
    holder.kill()
    holder.wait(10)
    assert not holds_lock(out)


def test_resume_of_a_run_killed_after_it_was_complete_does_not_train_again(synth_dataset,
                                                                            tmp_path):
    """A kill between the last file moved into place and the process exit leaves no
    checkpoint: --resume finds the run complete for the same settings and keeps it."""
    from conftest import TINY

    from deepmouse.pipeline import train_run

    config = RunConfig(dataset=str(synth_dataset), out=str(tmp_path / "run"), params=TINY)
    first = train_run(config, plots=False)
    model_bytes = first.model_path.read_bytes()
    epochs = []
    again = train_run(config, on_epoch=epochs.append, plots=False, resume=True)
    assert epochs == [] and again.model_path.read_bytes() == model_bytes
    assert again.metrics == first.metrics and again.history == first.history
    other = RunConfig(**{**config.__dict__, "seed": 1})
    train_run(other, on_epoch=epochs.append, plots=False, resume=True)
    assert len(epochs) == TINY["epochs"]  # other settings: trained
