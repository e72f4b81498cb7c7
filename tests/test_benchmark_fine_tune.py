"""benchmarks/fine_tune.py on a small synthetic dataset: the learning curve across sessions, and
a user's own minutes trained from scratch and fine-tuned, all scored on held-out windows."""

from __future__ import annotations

import json

import pytest
from conftest import load_benchmark

fine_tune = load_benchmark("fine_tune")


def test_the_benchmark_scores_every_model_of_a_fold_and_draws_both_curves(synth_sessions,
                                                                          tmp_path, capsys):
    cache, png = tmp_path / "ft.jsonl", tmp_path / "ft.png"
    args = ["--data", str(synth_sessions), "--folds", "1", "--fractions", "0.5,1",
            "--minutes", "0.25", "--epochs", "1", "--cache", str(cache), "--plot", str(png)]
    assert fine_tune.main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["rows"]
    across = [r for r in rows if r["question"] == "across"]
    own = [r for r in rows if r["question"] == "own"]
    choices = [r for r in rows if r["question"] == "choice"]
    assert [r["minutes"] for r in choices] == [0.25]
    for choice in choices:  # the rate chosen on the dev pair is the one fine-tuning used
        assert set(choice["dev_accuracy"]) == {str(lr) for lr in fine_tune.FINE_TUNE_LRS}
        assert choice["dev_accuracy"][str(choice["lr"])] == max(choice["dev_accuracy"].values())
        [tuned] = [r for r in own if r["method"] == "fine-tuned"
                   and r["minutes"] == choice["minutes"]]
        assert tuned["lr"] == choice["lr"]
    assert sum(report["fine_tune_lr_chosen"].values()) == 1
    assert [r["fraction"] for r in across] == [0.5, 1.0]
    assert across[0]["minutes_per_hand"] < across[1]["minutes_per_hand"]
    assert [(r["method"], r["minutes"]) for r in own] == [
        ("out of the box", 0.0), ("scratch", 0.25), ("fine-tuned", 0.25)]
    # the user's test part is the same for every model of the fold; it is not the across test
    assert len({r["test_windows"] for r in own}) == 1
    assert own[0]["test_windows"] < across[0]["test_windows"]
    for row in across + own:
        assert 0.0 <= row["accuracy"] <= 1.0
    assert png.stat().st_size > 10_000

    # a second run reads every result from the cache instead of training again
    lines = cache.read_text().splitlines()
    assert len(lines) == len(rows)
    assert fine_tune.main([*args, "--markdown"]) == 0
    table = capsys.readouterr().out
    assert len(cache.read_text().splitlines()) == len(lines)
    assert table.count("\n| own |") == 3 and table.count("\n| across |") == 2


def test_windows_of_the_first_minutes_stop_there(synth_sessions):
    from deepmouse.recordings import load_dataset
    from deepmouse.windows import WindowConfig

    recording = load_dataset(synth_sessions).recordings[:1]
    config = WindowConfig()
    first = fine_tune.windows_of(recording, config, 200, minutes=0.25)
    assert len(first) <= 15 * 100 // 200
    later = fine_tune.windows_of(recording, config, 200, start=0.6)
    everything = fine_tune.windows_of(recording, config, 200)
    assert len(first) + len(later) <= len(everything)


@pytest.mark.parametrize("values", [[0.5], [0.6, 0.7]])
def test_summaries_are_mean_and_spread_over_folds(values):
    rows = [{"question": "own", "method": "scratch", "minutes": 1.0, "accuracy": v,
             "roc_auc": None, "decision_10s": None, "minutes_per_hand": 1.0} for v in values]
    [entry] = fine_tune.summarise(rows)
    assert entry["folds"] == len(values)
    assert entry["accuracy"]["mean"] == pytest.approx(sum(values) / len(values))
    assert "roc_auc" not in entry
