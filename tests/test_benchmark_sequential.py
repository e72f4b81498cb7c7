"""benchmarks/sequential.py: its rules, the nested choice of the floor and the table, on
simulated log-odds (the real figures are in RESULTS.md)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_benchmark
from test_decision import simulate_sessions

from deepmouse.decision import DecisionModel


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("sequential")


def fake_fold(seed: int, lean: float = 0.0) -> dict:
    truth = DecisionModel(mu=1.0, sigma2=3.0, tau2=0.3)
    z, y, rec = simulate_sessions(4, 40, truth, seed)
    dev, test = rec < 2, rec >= 2
    return {"dev_z": z[dev] + lean, "dev_y": y[dev], "dev_recording": rec[dev],
            "test_z": z[test] + lean, "test_y": y[test], "test_recording": rec[test],
            "window_seconds": np.array(2.0), "train_seconds": np.array(0.0)}


def test_the_sum_rule_decides_sooner_than_the_mean_rule(bench):
    mean, total = bench.SimpleRule("mean", 2.0, 0.95), bench.SimpleRule("sum", 2.0, 0.95)
    for _ in range(3):
        a, b = mean.update(1.0), total.update(1.0)
    assert a.decided is None and a.p_left == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert b.decided == "left" and b.seconds_to_decision == 6.0


def test_the_floor_is_chosen_on_other_folds_only(bench):
    folds = {("mouse", f"f{i}"): fake_fold(i) for i in range(3)}
    floor = bench.choose_floor(folds)
    assert floor in bench.FLOORS


def test_every_rule_scores_a_fold_and_the_table_has_them(bench):
    arrays = fake_fold(7, lean=0.4)
    model = bench.fit_decision_model(arrays["dev_z"], arrays["dev_y"], arrays["dev_recording"])
    assert model.bias == pytest.approx(0.4, abs=0.6)
    rows = []
    for rule, constants in (("mean", None), ("sum", None), ("hier-dev", model)):
        scored = bench.score_fold(arrays, rule, constants)
        assert scored["sequential"]["trials"] > 0 and scored["switch"]["trials"] == 2
        rows.append({"family": "sim", "task": "mouse", "fold": "f7", "rule": rule, **scored})
    assert "window_ece_calibrated" in rows[-1]
    table = bench.markdown(rows)
    assert "| sim | mouse | hier-dev | 1 |" in table and "| sim | mouse | sum | 1 |" in table


def test_the_family_of_a_fold_is_chosen_on_the_other_folds(bench):
    def row(family, fold, accuracy, decided):
        return {"family": family, "task": "mouse", "fold": fold, "rule": "hier-nested",
                "sequential": {"trials": 100, "decided": decided, "accuracy": accuracy},
                "switch": None}

    # "fast" decides more but is wrong too often on folds b and c; on fold a it looks perfect
    rows = [row("fast", "a", 1.0, 0.9), row("fast", "b", 0.8, 0.9), row("fast", "c", 0.8, 0.9),
            row("safe", "a", 0.96, 0.5), row("safe", "b", 0.97, 0.6), row("safe", "c", 0.96, 0.6)]
    chosen = {c["fold"]: c["family"] for c in bench.choose_family(rows)}
    assert chosen == {"a": "safe", "b": "safe", "c": "safe"}
