"""benchmarks/accuracy.py: its pieces, on synthetic data (the real figures are in RESULTS.md)."""

from __future__ import annotations

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    """benchmarks/accuracy.py as a module."""
    return load_benchmark("accuracy")


def test_rocket_benchmark_row(bench, rocket_splits):
    """benchmarks/accuracy.py scores the rocket baseline on the test split, with a loss."""
    pytest.importorskip("aeon")
    live = rocket_splits.test  # stands in for the overlapping windows live scores
    row = bench.run_one("rocket", rocket_splits, 100, quick=False, seed=0, live_test=live)
    assert row["test_windows"] == len(rocket_splits.test) and row["test"]["loss"] > 0
    assert row["test"]["accuracy"] > 0.6
    # the sequential decision, with constants from dev, on the test windows
    assert 0 < row["sequential"]["decided"] <= 1 and row["sequential"]["median_seconds"] > 0
    assert 0 <= row["sequential"]["ece"] <= 1 and row["switch"]["followed"] is not None
    assert row["sequential_live"] == row["sequential"]  # back-to-back windows: the same


def test_accuracy_benchmark_table_from_fold_rows(bench):
    """benchmarks/accuracy.py: summary over folds and the Markdown table (no training)."""

    def fold(name, acc, d10, seconds):
        return {"fold": name, "dev_accuracy": acc, "train_seconds": 1.0, "stride": None,
                "test": {"accuracy": acc, "loss": 0.5, "roc_auc": acc,
                         "decision_accuracy": {"2": acc, "5": acc, "10": d10, "30": None}},
                "sequential": {"decided": 0.9, "accuracy": acc + 0.3,
                               "median_seconds": seconds, "ece": 0.05},
                "switch": {"followed": 1.0, "median_seconds": 2 * seconds}}

    folds = [fold("test r1+l1", 0.6, 0.7, 8.0), fold("test r2+l2", 0.8, 0.9, 12.0)]
    summary = bench.summarise(folds)
    assert summary["accuracy"]["mean"] == pytest.approx(0.7)
    assert summary["accuracy"]["std"] == pytest.approx(0.1)
    assert summary["decision_accuracy"]["30"] is None
    report = {"results": [{"task": "mouse", "window": 200, "family": "svm", "folds": folds,
                           "summary": summary}],
              "deepmouse_reported": bench.DEEPMOUSE_REPORTED}
    table = bench.markdown(report)
    assert "0.700 ± 0.100" in table and "optimistic" in table and "r2+l2: 0.800 / 0.900" in table
    assert summary["sequential"]["median_seconds"]["mean"] == pytest.approx(10.0)
    assert ("| mouse | 200 | svm | back to back | 0.900 ± 0.000 | 1.000 ± 0.100 | 10.000 ± 2.000 "
            "| 0.050 ± 0.000 | 20.000 ± 4.000 |") in table
