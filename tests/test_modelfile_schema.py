"""Model files whose tensors are intact but whose contents were edited (the digest recomputed,
as anyone can): every field is checked before anything is built, and refused with one line
naming the file and the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import ModelFileError, _digest, load_model, read_metadata, save_model
from deepmouse.windows import WindowConfig


def tamper(
    source: Path,
    target: Path,
    meta: Callable[[dict], None] | None = None,
    tensors: Callable[[dict], None] | None = None,
    raw_meta: str | None = None,
) -> Path:
    """Copy a model file with its metadata and/or tensors edited and the digest recomputed."""
    arrays = load_file(str(source))
    metadata = read_metadata(source)
    if tensors is not None:
        tensors(arrays)
    if meta is not None:
        meta(metadata)
    metadata["tensors_sha256"] = _digest(arrays)
    text = raw_meta if raw_meta is not None else json.dumps(metadata)
    save_file(arrays, str(target), metadata={"deepmouse": text})
    return target


def set_in(*keys_and_value):
    *keys, value = keys_and_value

    def edit(meta: dict) -> None:
        node = meta
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def drop(*keys):
    def edit(meta: dict) -> None:
        node = meta
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def set_tensor(name: str, value: Callable[[np.ndarray], np.ndarray]):
    def edit(arrays: dict) -> None:
        arrays[name] = value(arrays[name])

    return edit


METADATA_CASES = {
    "classes of the wrong length": (set_in("classes", ["right", "left", "both"]), "classes"),
    "classes swapped": (set_in("classes", ["left", "right"]), "classes"),
    "unknown family": (set_in("family", "transformer"), "family"),
    "family not a string": (set_in("family", 3), "family"),
    "unknown parameter": (set_in("params", "depth", 3), "depth"),
    "parameter of the wrong type": (set_in("params", "hidden", "big"), "hidden"),
    "absurd layer size": (set_in("params", "hidden", 10**9), "hidden"),
    "layer size that does not fit the weights": (set_in("params", "hidden", 4000),
                                                 "rnn.weight"),
    "boolean epochs": (set_in("params", "epochs", True), "epochs"),
    "window of 10^9 steps": (set_in("window", "window", 10**9), "window.window"),
    "window as a float": (set_in("window", "window", 200.5), "window.window"),
    "zero rate": (set_in("window", "rate", 0), "window.rate"),
    "negative idle threshold": (set_in("window", "idle_threshold", -1), "idle_threshold"),
    "window field missing": (drop("window", "rate"), "rate"),
    "extra window field": (set_in("window", "shift", 3), "shift"),
    "decision with an extra field": (set_in("decision", {"mu": 1, "sigma2": 1, "tau2": 1,
                                                         "bias": 0, "switch_rate": 0.01,
                                                         "threshold": 0.95, "x": 1}),
                                     "decision"),
    "decision of the wrong type": (set_in("decision", [1, 2]), "decision"),
    "negative decision variance": (set_in("decision", {"mu": 1, "sigma2": -1, "tau2": 1,
                                                       "bias": 0, "switch_rate": 0.01,
                                                       "threshold": 0.95}), "sigma2"),
    "provenance not an object": (set_in("provenance", "me"), "provenance"),
    "settings not an object": (set_in("settings", []), "settings"),
    "unknown top-level field": (set_in("run_this", "rm -rf /"), "run_this"),
    "missing family": (drop("family"), "family"),
    "digest not hex": (None, "tensors_sha256"),
}


@pytest.mark.parametrize("case", sorted(METADATA_CASES))
def test_edited_metadata_is_refused_naming_the_field(case, tiny_run, tmp_path):
    edit, field = METADATA_CASES[case]
    path = tmp_path / "edited.safetensors"
    if edit is None:  # the digest itself edited: nothing recomputed
        meta = read_metadata(tiny_run.model_path) | {"tensors_sha256": "zz"}
        save_file(load_file(str(tiny_run.model_path)), str(path),
                  metadata={"deepmouse": json.dumps(meta)})
    else:
        tamper(tiny_run.model_path, path, meta=edit)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and field in message and "\n" not in message


TENSOR_CASES = {
    "zero scale": (set_tensor("scale", lambda a: np.zeros_like(a)), "scale"),
    "NaN scale": (set_tensor("scale", lambda a: np.full_like(a, np.nan)), "scale"),
    "negative scale": (set_tensor("scale", lambda a: -a), "scale"),
    "scale of three axes": (set_tensor("scale", lambda a: np.ones(3)), "scale"),
    "NaN weight": (set_tensor("state.head.weight", lambda a: np.full_like(a, np.nan)),
                   "state.head.weight"),
    "infinite weight": (set_tensor("state.head.bias", lambda a: np.full_like(a, np.inf)),
                        "state.head.bias"),
    "weight of the wrong shape": (set_tensor("state.head.weight", lambda a: np.zeros((3, 3),
                                                                                  a.dtype)),
                                  "head.weight"),
    "boolean weight": (set_tensor("state.head.bias", lambda a: np.ones(a.shape, bool)),
                       "dtype"),
    "foreign tensor": (lambda arrays: arrays.update(payload=np.zeros(4, np.uint8)), "payload"),
    "missing weight": (lambda arrays: arrays.pop("state.head.bias"), "head.bias"),
}


@pytest.mark.parametrize("case", sorted(TENSOR_CASES))
def test_edited_tensors_are_refused_naming_the_tensor(case, tiny_run, tmp_path):
    edit, name = TENSOR_CASES[case]
    path = tamper(tiny_run.model_path, tmp_path / "edited.safetensors", tensors=edit)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value).startswith(str(path)) and name in str(caught.value)


@pytest.mark.parametrize("raw", ['{"format": "deepmouse-model", "format_version": NaN}',
                                 '{"format": "deepmouse-model", "format_version": 2, '
                                 '"x": Infinity}',
                                 "[" * 100_000, '"just a string"', "null"])
def test_metadata_that_is_not_strict_json_is_refused(raw, tiny_run, tmp_path):
    path = tamper(tiny_run.model_path, tmp_path / "edited.safetensors", raw_meta=raw)
    with pytest.raises(ModelFileError, match="edited.safetensors"):
        load_model(path)


def test_svm_whose_support_vectors_do_not_fit_its_window_is_refused(synth_dataset, tmp_path):
    from deepmouse.recordings import load_dataset
    from deepmouse.windows import all_windows

    windows = all_windows(load_dataset(synth_dataset), WindowConfig(window=50))
    clf = HandClassifier(family="svm").fit(windows.X, windows.y)
    good = save_model(tmp_path / "svm.safetensors", clf, WindowConfig(window=50))
    path = tamper(good, tmp_path / "edited.safetensors", meta=set_in("window", "window", 60))
    with pytest.raises(ModelFileError, match="inconsistent"):
        load_model(path)


@pytest.mark.parametrize("edit", [
    set_tensor("state.channel_indices", lambda a: a + 100),
    set_tensor("state.dilations", lambda a: a * 1000),
    set_tensor("state.biases", lambda a: a[:-1]),
    set_tensor("state.channels_per_combination", lambda a: a[:10]),
    set_tensor("state.dilations", lambda a: a.astype(np.float32)),
], ids=["channel out of range", "dilation past the window", "one bias short",
        "combinations short", "float dilations"])
def test_rocket_arrays_inconsistent_with_one_another_are_refused(edit, rocket_splits, tmp_path):
    """MiniRocket's compiled transform indexes these arrays without bounds checks."""
    pytest.importorskip("aeon")
    train = rocket_splits.train
    clf = HandClassifier(family="rocket", n_kernels=84).fit(train.X, train.y)
    good = save_model(tmp_path / "rocket.safetensors", clf, rocket_splits.config)
    path = tamper(good, tmp_path / "edited.safetensors", tensors=edit)
    with pytest.raises(ModelFileError, match="edited.safetensors"):
        load_model(path)


def test_commands_refuse_an_edited_model_with_one_line(tiny_run, synth_dataset, tmp_path):
    path = tamper(tiny_run.model_path, tmp_path / "edited.safetensors",
                  tensors=set_tensor("scale", lambda a: np.zeros_like(a)))
    recording = next((Path(synth_dataset) / "left").iterdir())
    for args in (["evaluate", path, synth_dataset],
                 ["live", path, "--replay", recording, "--json-lines", "--speed", "0"]):
        result = cli(*args)
        assert_clean_error(result, "edited.safetensors", "scale")
        assert "nan" not in result.stdout.lower()


# -- fuzzing -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)


def field_paths(meta: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path of ``meta`` (objects only), e.g. ``("window", "rate")``."""
    paths = []
    for key, value in meta.items():
        paths.append(prefix + (key,))
        if isinstance(value, dict):
            paths += field_paths(value, prefix + (key,))
    return paths


def assert_loads_or_names_the_file(path: Path) -> None:
    try:
        model = load_model(path)
    except ModelFileError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message, message
        return
    probe = np.random.default_rng(1).normal(0, 5, (3, model.window_config.window, 2))
    assert np.isfinite(model.predict_proba(probe)).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_metadata_field_set_to_any_json_value_loads_or_is_refused_with_one_line(
        data, tiny_run, tmp_path_factory):
    meta = read_metadata(tiny_run.model_path)
    keys = data.draw(st.sampled_from(field_paths(meta)), label="field")
    value = data.draw(JSON_VALUES, label="value")
    path = tmp_path_factory.mktemp("fuzz") / "edited.safetensors"
    tamper(tiny_run.model_path, path, meta=set_in(*keys, value))
    assert_loads_or_names_the_file(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_model_file_cut_or_with_a_byte_changed_anywhere_is_refused_with_one_line(
        data, tiny_run, tmp_path_factory):
    original = tiny_run.model_path.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    if data.draw(st.booleans(), label="cut"):
        content = original[:position]
    else:
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
        content = original[:position] + bytes([byte]) + original[position + 1:]
    path = tmp_path_factory.mktemp("fuzz") / "damaged.safetensors"
    path.write_bytes(content)
    assert_loads_or_names_the_file(path)


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=512))
def test_arbitrary_bytes_are_refused_as_a_model_file(content, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "junk.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="junk.safetensors"):
        load_model(path)


def test_a_directory_or_a_symlink_loop_as_model_file_is_refused(tmp_path):
    (tmp_path / "folder.safetensors").mkdir()
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop)
    for path in (tmp_path / "folder.safetensors", loop):
        with pytest.raises(ModelFileError, match=path.name):
            load_model(path)
