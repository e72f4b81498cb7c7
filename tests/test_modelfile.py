"""Model files: round trip, no code execution, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from deepmouse.classifier import HandClassifier
from deepmouse.modelfile import (
    FORMAT_VERSION,
    ModelFileError,
    load_model,
    read_metadata,
    save_model,
)
from deepmouse.recordings import load_dataset
from deepmouse.windows import WindowConfig, all_windows

DATA = Path(__file__).parent / "data"


def test_round_trip_gives_identical_probabilities(tiny_run, synth_dataset):
    model = load_model(tiny_run.model_path)
    X = all_windows(load_dataset(synth_dataset), model.window_config).X
    np.testing.assert_allclose(
        model.predict_proba(X), tiny_run.classifier.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    assert model.window_config.window == 200
    prov = model.provenance
    assert prov["dataset_checksum"] == load_dataset(synth_dataset).checksum
    assert prov["split"] == "chrono" and prov["seed"] == 0
    assert {"torch", "numpy", "deepmouse"} <= set(prov["versions"])
    np.testing.assert_allclose(model.classifier.scale_, tiny_run.classifier.scale_)


def test_svm_round_trip(tmp_path, synth_dataset):
    X = all_windows(load_dataset(synth_dataset), WindowConfig(window=100))
    clf = HandClassifier(family="svm", C=2.0).fit(X.X, X.y)
    path = save_model(tmp_path / "svm.safetensors", clf, WindowConfig(window=100))
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(X.X), clf.predict_proba(X.X), rtol=1e-6)
    assert loaded.classifier.C == 2.0


def test_truncated_file(tmp_path, tiny_run):
    data = tiny_run.model_path.read_bytes()
    for n in (0, 5, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.safetensors").write_bytes(data[:n])
        with pytest.raises(ModelFileError):
            load_model(tmp_path / "cut.safetensors")


def test_tampered_weights_are_refused(tmp_path, tiny_run):
    data = bytearray(tiny_run.model_path.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the last tensor
    (tmp_path / "t.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(tmp_path / "t.safetensors")


def test_foreign_files_are_refused(tmp_path):
    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelFileError, match="not a deepmouse model"):
        load_model(tmp_path / "other.safetensors")
    meta = {"deepmouse": json.dumps({"format": "deepmouse-model", "format_version": 99})}
    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "v99.safetensors"), metadata=meta)
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(tmp_path / "v99.safetensors")
    (tmp_path / "pickle.pt").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "pickle.pt")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.safetensors")


def test_metadata_is_plain_json(tiny_run):
    meta = read_metadata(tiny_run.model_path)
    assert meta["classes"] == ["right", "left"]
    assert meta["family"] == "gru"
    assert meta["window"]["idle_threshold"] == 0.1


def test_normalisation_constants_come_from_the_train_split_only(tiny_run, synth_dataset):
    from deepmouse.windows import fit_scale, make_splits

    model = load_model(tiny_run.model_path)
    splits = make_splits(load_dataset(synth_dataset), model.window_config, "chrono")
    np.testing.assert_allclose(model.classifier.scale_, fit_scale(splits.train.X))
    everything = np.concatenate([splits.train.X, splits.dev.X, splits.test.X])
    assert not np.allclose(model.classifier.scale_, fit_scale(everything), rtol=1e-6)


@pytest.mark.parametrize("family", ["stroke-cnn", "svm"])
def test_format_version_1_files_still_load_and_predict_the_same(family):
    """tests/data/v1-*.safetensors were written by deepmouse before the family registry (format
    version 1), with the probabilities it gave for 8 windows."""
    expected = np.load(DATA / "v1-expected.npz")
    assert read_metadata(DATA / f"v1-{family}.safetensors")["format_version"] == 1
    model = load_model(DATA / f"v1-{family}.safetensors")
    assert model.classifier.family == family
    np.testing.assert_allclose(model.predict_proba(expected[f"{family}_X"])[:, 1],
                               expected[f"{family}_p_left"], rtol=1e-6, atol=1e-7)


def test_files_are_written_in_the_current_format(tiny_run):
    meta = read_metadata(tiny_run.model_path)
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["family"] == "gru" and "model" not in meta["params"]


def test_decision_constants_round_trip_and_absurd_ones_are_refused(tiny_run, tmp_path):
    """The constants live in the metadata, outside the tensors' checksum: checked on load."""
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file as save_tensors

    from deepmouse.decision import DecisionModel

    decision = DecisionModel(mu=0.7, sigma2=2.0, tau2=0.2)
    model = load_model(tiny_run.model_path)
    path = save_model(tmp_path / "d.safetensors", model.classifier, model.window_config,
                      decision=decision)
    assert load_model(path).decision == decision
    meta = read_metadata(path)
    for field, value in (("tau2", -1.0), ("mu", "a lot")):
        meta["decision"] = decision.to_dict() | {field: value}
        save_tensors(load_file(str(path)), str(tmp_path / "bad.safetensors"),
                     metadata={"deepmouse": json.dumps(meta)})
        with pytest.raises(ModelFileError, match=field):
            load_model(tmp_path / "bad.safetensors")
