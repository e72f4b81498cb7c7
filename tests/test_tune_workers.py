"""Several ``deepmouse tune`` workers on one study, as the README says they can run: two worker
processes on one PostgreSQL study (a real server on the loopback address) and on one SQLite
file; the finished trials add up, no parameters are tried twice, and a worker killed mid-trial
and started again finishes the study without losing a finished trial."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from conftest import finished_trials, start_entry_point
from postgres import PostgresServer, require_postgres

TRIALS = 4


def worker(dataset: Path, storage: str, study: str, out: Path):
    """Start one ``deepmouse tune`` worker process on ``study`` at ``storage``."""
    return start_entry_point("tune", dataset, "--model", "gru", "--epochs", "1", "--window",
                             "50", "--trials", str(TRIALS), "--storage", storage, "--study",
                             study, "--out", out, "--json")


@pytest.fixture(scope="module")
def postgres_url():
    require_postgres()
    with PostgresServer() as url:
        yield url


def wait_for(procs) -> list[dict]:
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        outputs.append(json.loads(stdout))
    return outputs


def assert_one_study_without_repeats(storage: str, ran: list[list[int]]) -> None:
    trials = finished_trials(storage, "shared")
    assert len(trials) >= TRIALS
    # each worker stops once the study holds TRIALS; both may be mid-trial at that moment
    assert len(trials) <= TRIALS + len(ran) - 1
    done_by_workers = [number for numbers in ran for number in numbers]
    assert sorted(done_by_workers) == sorted(trials)  # every trial finished by one worker
    assert all(numbers for numbers in ran)  # both workers took part
    params = [tuple(sorted(p.items())) for p, _ in trials.values()]
    assert len(set(params)) == len(params)


def two_workers(storage: str, dataset: Path, tmp_path: Path) -> list[dict]:
    return wait_for([worker(dataset, storage, "shared", tmp_path / f"worker{i}")
                     for i in (1, 2)])


@pytest.mark.slow
def test_two_workers_on_one_postgresql_study_add_up(postgres_url, synth_dataset, tmp_path):
    results = two_workers(postgres_url, synth_dataset, tmp_path)
    assert_one_study_without_repeats(postgres_url, [r["ran_here"] for r in results])


@pytest.mark.slow
def test_two_workers_on_one_sqlite_study_add_up(synth_dataset, tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    results = two_workers(storage, synth_dataset, tmp_path)
    assert_one_study_without_repeats(storage, [r["ran_here"] for r in results])


@pytest.mark.slow
def test_a_postgresql_worker_killed_mid_trial_and_restarted_loses_no_trial(
        postgres_url, synth_dataset, tmp_path):
    steady = worker(synth_dataset, postgres_url, "killed", tmp_path / "steady")
    victim = worker(synth_dataset, postgres_url, "killed", tmp_path / "victim")
    deadline = time.monotonic() + 300
    while len(finished_trials(postgres_url, "killed")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(random.Random(7).uniform(0.0, 1.0))  # somewhere inside a trial
    victim.kill()
    victim.wait(30)
    before = finished_trials(postgres_url, "killed")
    restarted = worker(synth_dataset, postgres_url, "killed", tmp_path / "victim")
    wait_for([steady, restarted])
    after = finished_trials(postgres_url, "killed")
    assert len(after) >= TRIALS
    assert all(after[number] == trial for number, trial in before.items())  # none lost
    params = [tuple(sorted(p.items())) for p, _ in after.values()]
    assert len(set(params)) == len(params)  # none repeated
