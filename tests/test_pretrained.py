"""The model out of the box: deepmouse live with no model file downloads the DeepMouse
recordings (from the mirror here), trains the default family once, caches it with its model
card, and starts at once afterwards. Real data, a real training run (the touchpad: the smaller
of the two)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SHARED_DATA, assert_clean_error, cli, entry_point

from deepmouse.families import DEFAULT_FAMILY
from deepmouse.modelfile import load_model

LEFT = SHARED_DATA / "touchpad" / "left" / "left.txt"


def environment(cache: Path) -> dict[str, str]:
    return os.environ | {"DEEPMOUSE_CACHE": str(cache),
                         "DEEPMOUSE_DATA_MIRROR": str(SHARED_DATA)}


@pytest.fixture(scope="module")
def first_live(tmp_path_factory):
    """``deepmouse live`` on a fresh cache, with no model and no command before it."""
    if not (SHARED_DATA / "SHA256SUMS").is_file():
        pytest.skip(f"real DeepMouse data not found at {SHARED_DATA}")
    cache = tmp_path_factory.mktemp("cache")
    result = entry_point("live", "--device", "touchpad", "--replay", LEFT, "--speed", "0",
                         "--seconds", "60", "--json-lines", env=environment(cache),
                         timeout=1200)
    return cache, result


def test_live_without_a_model_builds_the_device_model_then_decides(first_live):
    cache, result = first_live
    assert result.returncode == 0, result.stderr
    assert "no cached touchpad model yet" in result.stderr
    model_file = cache / "models" / "touchpad" / "model.safetensors"
    model = load_model(model_file)
    assert model.provenance["dataset"] == str(cache / "datasets" / "deepmouse-touchpad")
    assert model.provenance["split"] == "chrono"
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    assert updates and updates[-1]["t"] == pytest.approx(60.0, abs=0.5)
    assert all(0.0 <= u["p_left_total"] <= 1.0 for u in updates)


def test_later_starts_use_the_cached_model_without_training(first_live):
    cache, _ = first_live
    model_file = cache / "models" / "touchpad" / "model.safetensors"
    before = model_file.stat().st_mtime_ns
    env = environment(cache) | {"DEEPMOUSE_DATA_MIRROR": str(cache / "no-mirror")}
    result = entry_point("live", "--device", "touchpad", "--replay", LEFT, "--speed", "0",
                         "--seconds", "10", "--json-lines", env=env)
    assert result.returncode == 0, result.stderr
    assert "building" not in result.stderr and "training" not in result.stderr
    assert model_file.stat().st_mtime_ns == before


def test_models_lists_the_cached_model_with_its_card(first_live):
    cache, _ = first_live
    env = {"DEEPMOUSE_CACHE": str(cache)}
    result = cli("models", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    [card] = json.loads(result.stdout)
    folder = cache / "models" / "touchpad"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert card["device"] == "touchpad" and card["family"] == DEFAULT_FAMILY
    assert card["model"] == str(folder / "model.safetensors")
    assert "One person's hands" in card["whose_hands"] and "2019" in card["whose_hands"]
    assert card["data"]["minutes"] == {"right": pytest.approx(10.0, abs=0.1),
                                       "left": pytest.approx(10.0, abs=0.1)}
    assert card["data"]["windows"] == metrics["windows"]
    held_out = card["held_out"]
    assert held_out["window_accuracy"] == metrics["test"]["accuracy"]
    assert held_out["right_when_decided"] == metrics["test"]["sequential"]["accuracy"]
    assert held_out["median_seconds_to_decide"] == \
        metrics["test"]["sequential"]["median_seconds"]
    assert "record your own" in card["advice"]

    shown = " ".join(cli("models", env=env).stdout.split())
    assert "touchpad model" in shown and "whose hands" in shown
    assert f"accuracy {held_out['window_accuracy']:.0%}" in shown


def test_an_unknown_device_and_a_corrupt_card_are_one_line(first_live, tmp_path):
    cache, _ = first_live
    env = {"DEEPMOUSE_CACHE": str(cache)}
    assert_clean_error(cli("live", "--device", "trackball", "--replay", LEFT, env=env),
                       "unknown pointing device 'trackball'")
    assert_clean_error(cli("models", "--build", "trackball", env=env), "trackball")
    card = cache / "models" / "touchpad" / "card.json"
    kept = card.read_bytes()
    try:
        card.write_text('{"device": "touchpad", ')
        assert_clean_error(cli("models", env=env), "card.json: corrupt model card")
    finally:
        card.write_bytes(kept)


def test_models_on_an_empty_cache_says_how_to_get_one(tmp_path):
    result = cli("models", env={"DEEPMOUSE_CACHE": str(tmp_path)})
    assert result.exit_code == 0
    assert "no cached model" in result.stdout and "deepmouse models --build" in result.stdout
    assert cli("models", "--json", env={"DEEPMOUSE_CACHE": str(tmp_path)}).stdout.strip() == "[]"


def test_train_init_names_the_out_of_the_box_model(first_live, synth_dataset, tmp_path):
    cache, _ = first_live
    out = tmp_path / "mine"
    result = cli("train", synth_dataset, "--init", "touchpad", "--out", out,
                 env={"DEEPMOUSE_CACHE": str(cache)})
    assert result.exit_code == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["init"] == str(cache / "models" / "touchpad" / "model.safetensors")
