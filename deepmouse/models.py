"""The neural networks, readable top to bottom.

Every network maps a batch of *normalised* movement windows ``(batch, window, 2)`` to one logit
per window ``(batch,)``: the log-odds that the window was made by the **left** hand (class 1).

- ``lstm``: DeepMouse iteration 01 — LSTM(hidden) over the window, last hidden state, a linear
  layer (DeepMouse: LSTM(256) → Dense(1, sigmoid); the sigmoid lives in the loss here).
- ``gru``: the same with a GRU (iteration 10).
- ``conv-gru``: ``conv_layers`` blocks of Conv1D(conv_filters, k=3, relu) → MaxPool(2) → dropout,
  then a GRU (iterations 10–13). With ``conv_layers=0`` it is a plain GRU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

TORCH_FAMILIES = ("lstm", "gru", "conv-gru")


@dataclass
class ModelConfig:
    """Architecture of a network (everything needed to rebuild it before loading weights).

    Attributes:
        kind: ``lstm``, ``gru`` or ``conv-gru``.
        hidden: units of the recurrent layer.
        conv_layers: Conv1D blocks before the GRU (``conv-gru`` only), 0–3.
        conv_filters: channels of each Conv1D block.
        dropout: dropout after each conv block and before the output layer.
        l1, l2: penalties on the recurrent weights, added to the loss by the training loop.
    """

    kind: str = "conv-gru"
    hidden: int = 64
    conv_layers: int = 3
    conv_filters: int = 32
    dropout: float = 0.1
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TORCH_FAMILIES:
            expected = ", ".join(TORCH_FAMILIES)
            raise ValueError(f"unknown network {self.kind!r} (expected {expected})")
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
        if not 0 <= self.conv_layers <= 3:
            raise ValueError(f"conv_layers must be 0-3, got {self.conv_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError("l1 and l2 must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


class ConvBlock(nn.Module):
    """Conv1D(k=3, same padding) → ReLU → MaxPool(2) → Dropout, on ``(batch, channels, time)``."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.pool(torch.relu(self.conv(x))))


class RecurrentClassifier(nn.Module):
    """Optional conv front end → LSTM/GRU → last hidden state → dropout → linear logit."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n_conv = config.conv_layers if config.kind == "conv-gru" else 0
        channels = [2] + [config.conv_filters] * n_conv
        self.convs = nn.ModuleList(
            ConvBlock(channels[i], channels[i + 1], config.dropout) for i in range(n_conv)
        )
        rnn = nn.LSTM if config.kind == "lstm" else nn.GRU
        self.rnn = rnn(channels[-1], config.hidden, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, window, 2)`` normalised movement → ``(batch,)`` left-hand logits."""
        if len(self.convs):
            h = x.transpose(1, 2)  # (batch, 2, window) for Conv1d
            for block in self.convs:
                h = block(h)
            x = h.transpose(1, 2)  # (batch, window / 2**n_conv, filters)
        _, state = self.rnn(x)
        last = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
        return self.head(self.drop(last[-1])).squeeze(-1)

    def recurrent_penalty(self) -> torch.Tensor:
        """``l1 * sum|W| + l2 * sum W²`` over the recurrent weight matrices."""
        weights = [p for n, p in self.rnn.named_parameters() if n.startswith("weight_hh")]
        penalty = torch.zeros((), device=weights[0].device)
        if self.config.l1:
            penalty = penalty + self.config.l1 * sum(w.abs().sum() for w in weights)
        if self.config.l2:
            penalty = penalty + self.config.l2 * sum((w * w).sum() for w in weights)
        return penalty


def build_model(config: ModelConfig) -> RecurrentClassifier:
    """A freshly initialised network for ``config`` (seed torch before calling for determinism)."""
    return RecurrentClassifier(config)
