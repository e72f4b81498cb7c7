"""Outputs are never silently wrong: strict JSON everywhere, undefined metrics as null, and a
model whose scores are not finite numbers refused in one line."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_ARGS, assert_clean_error, cli

from deepmouse.jsonio import NonFiniteJSONError, dumps_strict


def _refuse(constant: str):
    raise ValueError(f"not strict JSON: {constant}")


def strict_loads(text: str):
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity``."""
    return json.loads(text, parse_constant=_refuse)


def strict_lines(text: str) -> list:
    return [strict_loads(line) for line in text.splitlines() if line.strip()]


def test_dumps_strict_names_where_a_non_finite_number_sits():
    assert strict_loads(dumps_strict({"a": [1.0, None]})) == {"a": [1.0, None]}
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(NonFiniteJSONError, match=r"test\.curve\[1\]\.accuracy"):
            dumps_strict({"test": {"curve": [{"accuracy": 0.5}, {"accuracy": bad}]}})


def test_ece_of_nothing_is_undefined_not_zero():
    from deepmouse.evaluate import ece_of, expected_calibration_error

    assert ece_of([]) is None
    assert expected_calibration_error(np.zeros(0), np.zeros(0)) is None


def test_the_metrics_table_shows_an_undefined_metric_as_a_dash():
    from deepmouse.cli import UNDEFINED, metrics_table
    from deepmouse.evaluate import evaluate_windows

    one_class = evaluate_windows(np.array([0.8, 0.9]), np.array([1, 1]), np.zeros(2, int), 2.0)
    assert one_class["roc_auc"] is None
    table = metrics_table("t", {"test": one_class})
    rows = dict(zip(table.columns[0]._cells, table.columns[1]._cells, strict=True))
    assert rows["roc_auc"] == UNDEFINED == "–"
    assert rows["mean-rule decision after 30 s"] == UNDEFINED


def broken_model(source: Path, dest: Path, value: float) -> Path:
    """``source``'s model with its output layer's bias set to ``value`` (NaN, inf), saved with a
    valid digest: a file that loads but scores every window ``value``."""
    from deepmouse.modelfile import load_model, save_model

    model = load_model(source)
    clf = model.classifier
    arrays = dict(clf.state_.arrays)
    last_bias = [name for name in arrays if name.endswith("bias")][-1]
    arrays[last_bias] = np.full_like(arrays[last_bias], value)
    clf.state_ = dataclasses.replace(clf.state_, arrays=arrays)
    return save_model(dest, clf, model.window_config, model.provenance, model.decision)


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_a_model_file_with_non_finite_weights_is_refused_in_one_line(tiny_run, synth_dataset,
                                                                      tmp_path, value):
    path = broken_model(tiny_run.model_path, tmp_path / "broken.safetensors", value)
    result = cli("evaluate", path, synth_dataset, "--split", "all", "--json")
    assert_clean_error(result, "broken.safetensors", "NaN or infinite")
    assert result.stdout == ""

    recording = next((synth_dataset / "left").iterdir())
    result = cli("live", path, "--replay", recording, "--speed", "0", "--json-lines")
    assert_clean_error(result, "broken.safetensors", "NaN or infinite")
    assert result.stdout == ""


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_a_model_that_scores_non_finite_numbers_at_run_time_is_refused(tiny_run, synth_dataset,
                                                                        value):
    """A network whose weights went bad in memory (a diverged fit): every prediction path
    refuses its scores instead of turning them into probabilities."""
    import copy

    from deepmouse.classifier import NonFiniteScoreError
    from deepmouse.recordings import load_dataset
    from deepmouse.windows import WindowConfig, all_windows

    clf = copy.deepcopy(tiny_run.classifier)
    clf.state_.runtime["net"].head.bias.data.fill_(value)
    X = all_windows(load_dataset(synth_dataset), WindowConfig()).X[:5]
    for predict in (clf.decision_function, clf.predict_proba, clf.predict):
        with pytest.raises(NonFiniteScoreError, match="5 of 5 window"):
            predict(X)


def test_every_json_output_is_strict_json(synth_dataset, tmp_path):
    """train, evaluate, sweep, tune, data inspect and live on tiny synthetic data: stdout and
    the JSON files they write parse with a parser that refuses NaN and infinity."""
    pytest.importorskip("optuna")
    run = tmp_path / "run"
    result = cli("train", synth_dataset, "--out", run, "--json", *TINY_ARGS)
    assert result.exit_code == 0, result.stderr
    strict_loads(result.stdout)
    for name in ("metrics.json", "config.json"):
        strict_loads((run / name).read_text())

    result = cli("evaluate", run / "model.safetensors", synth_dataset, "--split", "all", "--json")
    assert result.exit_code == 0, result.stderr
    strict_loads(result.stdout)

    result = cli("sweep", synth_dataset, "--grid", "hidden=8", "--seeds", "0", "--model", "gru",
                 "--epochs", "1", "--out", tmp_path / "sweep", "--json")
    assert result.exit_code == 0, result.stderr
    strict_loads(result.stdout)
    strict_loads((tmp_path / "sweep" / "sweep.json").read_text())

    result = cli("tune", synth_dataset, "--model", "svm", "--trials", "1",
                 "--out", tmp_path / "tune", "--json")
    assert result.exit_code == 0, result.stderr
    strict_loads(result.stdout)
    strict_loads((tmp_path / "tune" / "tune.json").read_text())

    result = cli("data", "inspect", synth_dataset, "--out", tmp_path / "inspect", "--json")
    assert result.exit_code == 0, result.stderr
    report = strict_loads(result.stdout)
    strict_loads(Path(report["data"]).read_text())

    recording = next((synth_dataset / "right").iterdir())
    result = cli("live", run, "--replay", recording, "--speed", "0", "--seconds", "20",
                 "--json-lines")
    assert result.exit_code == 0, result.stderr
    assert strict_lines(result.stdout)
