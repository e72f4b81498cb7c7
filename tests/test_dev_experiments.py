"""benchmarks/dev_experiments.py: the pieces its dev-only figures rest on (no real data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_benchmark

from deepmouse.evaluate import decision_accuracy


@pytest.fixture(scope="module")
def dev_exp():
    return load_benchmark("dev_experiments")


def _arc(n: int = 200, turns: float = 3.0) -> torch.Tensor:
    t = torch.linspace(0, turns, n + 1)
    return torch.diff(torch.stack([torch.cos(t), torch.sin(t)], -1) * 20, dim=0)  # (n, 2)


def test_time_warp_keeps_shape_and_never_mirrors(dev_exp):
    """The warp changes speed, not handedness: a counter-clockwise arc stays counter-clockwise."""
    x = _arc().expand(16, -1, -1).clone()
    warped = dev_exp.time_warp_augment(x, 0.2, torch.Generator().manual_seed(0))
    assert warped.shape == x.shape and torch.isfinite(warped).all()
    assert not torch.allclose(warped, x)
    cross = warped[:, :-1, 0] * warped[:, 1:, 1] - warped[:, :-1, 1] * warped[:, 1:, 0]
    assert (cross.sum(1) > 0).all()


def test_per_window_norm_gives_unit_rms(dev_exp):
    X = np.random.default_rng(0).normal(size=(5, 50, 2)) * np.arange(1, 6)[:, None, None]
    rms = np.sqrt((dev_exp.per_window_norm(X) ** 2).sum(-1).mean(1))
    np.testing.assert_allclose(rms, 1.0, rtol=1e-4)


def test_identity_aggregator_is_the_decision_of_evaluate(dev_exp):
    """``decision_by`` with the identity reproduces deepmouse's own decision after 10 s."""
    rng = np.random.default_rng(1)
    z = rng.normal(0.3, 2.0, size=60)
    y = np.repeat([0, 1], 30)
    recording = np.repeat([0, 1], 30)
    ours = decision_accuracy(1 / (1 + np.exp(-z)), y, recording, 2.0)["10"]
    assert dev_exp.decision_by(z, y, recording, 5, lambda v: v) == pytest.approx(ours, abs=1e-3)


def test_segment_log_odds_is_the_mean_over_pieces(dev_exp):
    class Logit:
        def decision_function(self, X):
            return X[:, :, 0].sum(1)  # a "model": total x movement of each piece

    X = np.random.default_rng(2).normal(size=(3, 800, 2)).astype(np.float32)
    z = dev_exp.segment_log_odds(Logit(), X, 200, 100)
    expected = np.mean([X[:, s : s + 200, 0].sum(1) for s in range(0, 601, 100)], 0)
    np.testing.assert_allclose(z, expected, rtol=1e-5)
