"""benchmarks/kill_trials.py: one recorder killed at a random moment on Xvfb, with every figure
in the report and the goal met; its measures of a sweep and a tune detect a loss and a repeat
(the real figures, over many kills of every job, are in RESULTS.md)."""

from __future__ import annotations

import json

import pytest
from conftest import load_benchmark
from xserver import require_x


@pytest.mark.x11
def test_a_killed_recorder_loses_at_most_a_second_and_the_report_has_every_figure(tmp_path):
    require_x()
    bench = load_benchmark("kill_trials")
    out = tmp_path / "kill.json"
    assert bench.main(["--jobs", "record", "--trials", "1", "--seed", "3", "--json",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["trials"] == 1 and set(result["jobs"]) == {"record"}
    job = result["jobs"]["record"]
    assert job["trials"] == 1 and len(job["kill_moments"]) == 1
    assert set(job["figures"]) == set(bench.FIGURES["record"])
    assert all(set(f) == {"max", "median"} for f in job["figures"].values())
    (trial,) = job["trial_results"]
    assert trial["running_at_kill"] and trial["readable"] and trial["t_increasing"]
    assert trial["samples"] > 0 and trial["positions"] > 1  # the pointer moved
    low, high = bench.RECORD_KILL_AFTER  # the kill lands in the drawn range (plus polling)
    assert low <= trial["kill_after_s"] <= high + 1.0
    assert job["kill_moments"] == [trial["kill_after_s"]]
    assert job["unreadable"] == 0
    assert job["figures"]["lost_s"]["max"] <= 1.0  # the goal: at most a second lost


def test_the_sweep_measure_counts_lost_and_repeated_rows():
    bench = load_benchmark("kill_trials")
    keys = {("a", "0"), ("a", "1")}

    def row(params: str, seed: str, value: str = "0.5") -> dict:
        return {"params": params, "seed": seed, "dev_accuracy": value}

    def history(params: str, seed: str) -> list[dict]:
        return [{"params": params, "seed": seed, "epoch": str(e)} for e in (1, 2)]

    whole = history("a", "0") + history("a", "1")
    clean = bench.compare_sweep([row("a", "0")], [row("a", "0"), row("a", "1")], whole, whole,
                                keys, epochs=2)
    assert clean["lost"] == clean["repeated"] == 0
    # the finished row rewritten with another score, one trial twice, one history row twice
    bad = bench.compare_sweep([row("a", "0")], [row("a", "0", "0.6"), row("a", "1"),
                                                row("a", "1")],
                              whole, whole + history("a", "1")[:1], keys, epochs=2)
    assert bad["rows_lost"] == 1 and bad["rows_repeated"] == 1 and bad["history_repeated"] == 1
    missing = bench.compare_sweep([], [row("a", "0")], [], history("a", "0"), keys, epochs=2)
    assert missing["rows_missing"] == 1 and missing["history_missing"] == 2


def test_the_tune_measure_counts_lost_and_repeated_trials():
    bench = load_benchmark("kill_trials")
    before = {0: ({"lr": 0.1}, 0.7)}
    clean = bench.compare_tune(before, {0: ({"lr": 0.1}, 0.7), 2: ({"lr": 0.2}, 0.6)}, 2)
    assert clean == {"complete_at_kill": 1, "lost": 0, "repeated": 0, "complete_after": 2,
                     "complete_as_asked": True}
    bad = bench.compare_tune(before, {1: ({"lr": 0.2}, 0.6), 2: ({"lr": 0.2}, 0.5)}, 3)
    assert bad["lost"] == 1 and bad["repeated"] == 1 and not bad["complete_as_asked"]
