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


def test_the_curves_are_drawn_and_tabulated(bench, tmp_path):
    model = DecisionModel(mu=1.0, sigma2=3.0, tau2=0.3)
    rows = []
    for task, fold, seed in (("mouse", "a", 1), ("mouse", "b", 2), ("touchpad", "chrono", 3)):
        arrays = fake_fold(seed)
        for rule, constants in (("mean", None), ("sum", None), ("hier-dev", model)):
            rows.append({"family": "sim", "task": task, "fold": fold, "rule": rule,
                         **bench.score_fold(arrays, rule, constants)})
    stats = bench.curve_stats(rows, "sim", "mouse", "hier-dev")
    assert stats["folds"] == 2 and len(stats["seconds"]) == 60
    assert ((0 <= stats["decided"]) & (stats["decided"] <= 1)).all()
    assert (np.diff(stats["decided"]) >= -1e-12).all()  # the mean of cumulative fractions
    table = bench.curve_table(rows)
    assert "| sim | mouse |" in table and "| sim | touchpad |" in table and " ± " in table
    png = bench.plot_sequential_curves(rows, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_switch_rate_that_follows_fastest_is_chosen_only_among_right_ones(bench):
    def figures(accuracy, delays):
        return {"sequential": {"trials": 100, "decided": 0.9, "accuracy": accuracy},
                "delays": delays}

    wrong_fast = bench.switch_score([figures(0.90, [2.0, 2.0])])
    right_slow = bench.switch_score([figures(0.97, [20.0, 20.0, None])])
    right_fast = bench.switch_score([figures(0.96, [8.0, 12.0])])
    assert right_fast > right_slow > wrong_fast
    # a trial never followed counts as the slowest
    assert bench.switch_score([figures(0.97, [4.0, None, None])]) < right_slow


def test_the_switch_rate_of_a_fold_is_chosen_on_the_other_folds(bench):
    folds = {("mouse", f"f{i}"): fake_fold(i) for i in range(3)}
    folds[("touchpad", "chrono")] = fake_fold(9)
    study = bench.switch_study(folds, "stroke-cnn")
    assert [f["fold"] for f in study["folds"]] == ["f0", "f1", "f2"]
    for fold in study["folds"]:
        assert fold["rate"] in bench.SWITCH_RATES
        assert fold["chosen"] is fold["every"][fold["rate"]]
    assert study["touchpad"]["rate"] in bench.SWITCH_RATES
    table = bench.study_markdown([study])
    assert "| stroke-cnn | mouse | **nested**" in table and "| stroke-cnn | touchpad |" in table
