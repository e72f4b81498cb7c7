"""The training loop: checkpoints that an interrupted run resumes from, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepmouse.models import ModelConfig, build_model
from deepmouse.train import TrainConfig, train_model


class Crash(Exception):
    pass


def _config(**settings) -> TrainConfig:
    return TrainConfig(**{"epochs": 1, "batch_size": 8, "lr": 3e-3, "seed": 0, "device": "cpu",
                          "patience": None, "augment": 0.0, "threads": 1} | settings)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 40, 2)).astype(np.float32)
    y = (X[:, :, 0].mean(1) > 0).astype(np.int64)
    return X[:48], y[:48], X[48:], y[48:]


def _train(config, checkpoint=None, crash_at=None):
    torch.manual_seed(0)
    net = build_model(ModelConfig(kind="conv-gru", hidden=8, conv_layers=1, conv_filters=8,
                                  dropout=0.2))

    def on_epoch(row):
        if row["epoch"] == crash_at:
            raise Crash

    result = train_model(net, config, *_data(), on_epoch=on_epoch, checkpoint=checkpoint)
    return net, result


def test_resume_after_a_crash_gives_the_uninterrupted_result(tmp_path):
    config = _config(epochs=5, augment=0.1)
    net_ref, ref = _train(config)
    ckpt = tmp_path / "ckpt.safetensors"
    with pytest.raises(Crash):
        _train(config, ckpt, crash_at=3)
    assert ckpt.is_file()
    net, resumed = _train(config, ckpt)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([r["train_loss"] for r in resumed.history],
                               [r["train_loss"] for r in ref.history], rtol=1e-6)
    assert resumed.best_epoch == ref.best_epoch
    for (name, a), b in zip(net_ref.state_dict().items(), net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    ckpt = tmp_path / "ckpt.safetensors"
    _train(_config(epochs=1), ckpt)
    with pytest.raises(ValueError, match="other data or settings"):
        _train(_config(epochs=2, lr=0.1), ckpt)
    ckpt.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable checkpoint"):
        _train(_config(epochs=2), ckpt)


@pytest.mark.parametrize(("settings", "message"), [
    ({"lr": 1e300}, r"lr must be in \(0, 1\]"),
    ({"lr": 0.0}, r"lr must be in \(0, 1\]"),
    ({"threads": 100_000}, r"threads must be in \[1, 1024\]"),
])
def test_settings_that_cannot_train_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        _config(**settings)


def test_a_run_whose_dev_loss_is_never_finite_says_it_diverged(monkeypatch):
    import deepmouse.train

    monkeypatch.setattr(deepmouse.train, "_loss_and_accuracy", lambda logits, y: (np.nan, 0.5))
    with pytest.raises(ValueError, match="training diverged"):
        _train(_config(epochs=2))
