"""The networks of deepmouse.models start from Keras's initialisation, as DeepMouse's did."""

from __future__ import annotations

import pytest
import torch

from deepmouse.models import ModelConfig, build_model


@pytest.mark.parametrize("kind", ["lstm", "gru", "conv-gru"])
def test_recurrent_networks_start_as_keras_starts_them(kind):
    torch.manual_seed(0)
    hidden = 16
    net = build_model(ModelConfig(kind=kind, hidden=hidden, dropout=0.0, conv_layers=1,
                                  conv_filters=8) if kind == "conv-gru"
                      else ModelConfig(kind=kind, hidden=hidden, dropout=0.0))
    rnn = net.rnn
    gates = 4 if kind == "lstm" else 3
    recurrent = rnn.weight_hh_l0.detach()  # (gates * hidden, hidden): orthonormal columns
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(hidden), atol=1e-5, rtol=0)
    inputs = rnn.weight_ih_l0.detach()  # Glorot-uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    limit = (6 / (inputs.shape[0] + inputs.shape[1])) ** 0.5
    assert inputs.abs().max() <= limit and inputs.abs().max() > 0.8 * limit
    expected_bias = torch.zeros(gates * hidden)
    if kind == "lstm":
        expected_bias[hidden:2 * hidden] = 1.0  # the forget gate
    torch.testing.assert_close(rnn.bias_ih_l0.detach(), expected_bias)
    torch.testing.assert_close(rnn.bias_hh_l0.detach(), torch.zeros(gates * hidden))
    assert torch.count_nonzero(net.head.bias) == 0
    for block in net.convs:
        assert torch.count_nonzero(block.conv.bias) == 0


def test_the_initialisation_follows_the_seed():
    def weights(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return build_model(ModelConfig(kind="lstm", hidden=8, dropout=0.0)).rnn.weight_hh_l0

    assert torch.equal(weights(1), weights(1)) and not torch.equal(weights(1), weights(2))
