"""The neural networks, readable top to bottom.

Every network maps a batch of *normalised* movement windows ``(batch, window, 2)`` to one logit
per window ``(batch,)``: the log-odds that the window was made by the **left** hand (class 1).

- ``lstm``: DeepMouse iteration 01 — LSTM(hidden) over the window, last hidden state, a linear
  layer (DeepMouse: LSTM(256) → Dense(1, sigmoid); the sigmoid lives in the loss here).
- ``gru``: the same with a GRU (iteration 10).
- ``conv-gru``: ``conv_layers`` blocks of Conv1D(conv_filters, k=3, relu) → MaxPool(2) → dropout,
  then a GRU (iterations 10–13). With ``conv_layers=0`` it is a plain GRU.
- ``stroke-cnn`` (deepmouse's own): ``conv_layers`` dilated Conv1D blocks (k=5, dilation 1, 2, 4,
  ...) over (dx, dy, speed), mean- and max-pooled over time, beside hand-made *stroke features*
  (:func:`stroke_features`: speed-weighted direction histogram, signed curvature overall and per
  direction, moments of the movement, speed profile); both go through one linear layer.
  Mirroring a stroke swaps the hands, so the features keep every sign that mirroring flips.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

NETWORKS = ("lstm", "gru", "conv-gru", "stroke-cnn")
MAX_CONV_LAYERS = {"conv-gru": 3, "stroke-cnn": 6}
MAX_UNITS = 4096
"""Most units of a recurrent layer or channels of a conv block: far above what these windows
need, low enough that a typo cannot ask for terabytes."""


@dataclass
class ModelConfig:
    """Architecture of a network (everything needed to rebuild it before loading weights).

    The families of :mod:`deepmouse.families.network` fill it from their parameters; a field a
    network does not use keeps its "off" value.

    Attributes:
        kind: ``lstm``, ``gru``, ``conv-gru`` or ``stroke-cnn``.
        hidden: units of the recurrent layer (``stroke-cnn``: channels of its conv blocks).
        dropout: dropout after each conv block and before the output layer.
        conv_layers: Conv1D blocks before the GRU (``conv-gru``), 0–3; dilated Conv1D blocks
            (``stroke-cnn``), 0–6.
        conv_filters: channels of each Conv1D block (``conv-gru``).
        l1, l2: penalties on the recurrent weights, added to the loss by the training loop.
    """

    kind: str
    hidden: int
    dropout: float
    conv_layers: int = 0
    conv_filters: int = 0
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in NETWORKS:
            raise ValueError(f"unknown network {self.kind!r} (expected {', '.join(NETWORKS)})")
        if not 1 <= self.hidden <= MAX_UNITS:
            raise ValueError(f"hidden must be 1-{MAX_UNITS}, got {self.hidden}")
        most = MAX_CONV_LAYERS.get(self.kind, 0)
        if not 0 <= self.conv_layers <= most:
            raise ValueError(f"conv_layers must be 0-{most}, got {self.conv_layers}")
        if self.conv_layers and self.kind == "conv-gru" and not (
                1 <= self.conv_filters <= MAX_UNITS):
            raise ValueError(f"conv_filters must be 1-{MAX_UNITS}, got {self.conv_filters}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError("l1 and l2 must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


def min_window(config: ModelConfig) -> int:
    """The shortest window the network takes: ``conv-gru`` halves it in every conv block."""
    if config.kind == "conv-gru":
        return max(2, 2**config.conv_layers)
    return 2


class ConvBlock(nn.Module):
    """Conv1D(k=3, same padding) → ReLU → MaxPool(2) → Dropout, on ``(batch, channels, time)``."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.pool(torch.relu(self.conv(x))))


def keras_initialisation(net: nn.Module) -> None:
    """Initialise ``net``'s layers as Keras does, as DeepMouse's networks were.

    Glorot-uniform input weights of recurrent, convolutional and linear layers, orthogonal
    recurrent weights, zero biases, and a forget-gate bias of 1 in an LSTM. With torch's own
    initialisation (uniform in ±1/sqrt(hidden) everywhere) an LSTM of 256 at DeepMouse's
    learning rate of 1e-4 does not leave chance on DeepMouse's windows; with this one it learns
    as DeepMouse's did.
    """
    for module in net.modules():
        if isinstance(module, nn.LSTM | nn.GRU):
            for name, weight in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(weight)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(weight)
                else:
                    nn.init.zeros_(weight)
                    if isinstance(module, nn.LSTM) and name.startswith("bias_ih"):
                        hidden = module.hidden_size  # gates in torch's order: i, f, g, o
                        nn.init.ones_(weight[hidden:2 * hidden])
        elif isinstance(module, nn.Conv1d | nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


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
        keras_initialisation(self)

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


# -- stroke-cnn ------------------------------------------------------------------------------
N_DIRECTIONS = 8
MOMENTS = ((1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (3, 0), (0, 3), (2, 1), (1, 2))
CURL_LAGS = (2, 5, 10)
MOMENT_POWERS = tuple(list(powers) for powers in zip(*MOMENTS, strict=True))
"""The powers of x and of y in :data:`MOMENTS`, as two index lists."""


def stroke_features(x: torch.Tensor) -> torch.Tensor:
    """Hand-made features of each window's strokes: ``(batch, window, 2)`` → ``(batch, 41)``.

    ``x`` is normalised movement (dx, dy per step). Steps slower than 0.05 count as still.

    - direction histogram (8 bins), weighted by speed;
    - signed turning angle between consecutive steps: speed-weighted mean overall, mean sign,
      and mean per direction bin (8) — how strokes curve, which mirrors with the hand;
    - moments E[nx^a ny^b] of the movement scaled to unit RMS (9): drift, axis balance,
      diagonal tilt, skew;
    - dx/dy correlation; log speed quantiles 50/75/90/99%; log mean acceleration; fraction of
      moving steps; per axis log mean |d| and mean d / mean |d|;
    - "curl" at lags 2, 5, 10: mean cross product of unit directions ``lag`` steps apart.
    """
    dx, dy = x[..., 0], x[..., 1]
    speed = torch.sqrt(dx * dx + dy * dy + 1e-12)  # (B, T)
    moving = (speed > 0.05).float()
    angle = torch.atan2(dy, dx)
    bins = ((angle + math.pi) / (2 * math.pi) * N_DIRECTIONS).long().clamp(0, N_DIRECTIONS - 1)
    onehot = nn.functional.one_hot(bins, N_DIRECTIONS).float()  # (B, T, 8)
    direction_hist = (speed.unsqueeze(-1) * onehot).sum(1) / (speed.sum(1, keepdim=True) + 1e-6)

    cross = dx[:, :-1] * dy[:, 1:] - dy[:, :-1] * dx[:, 1:]
    dot = dx[:, :-1] * dx[:, 1:] + dy[:, :-1] * dy[:, 1:]
    turn = torch.atan2(cross, dot)  # (B, T-1) signed turning angle
    w = speed[:, :-1] * moving[:, :-1] * moving[:, 1:]
    turn_mean = (turn * w).sum(1) / (w.sum(1) + 1e-6)
    turn_sign = (torch.sign(turn) * w).sum(1) / (w.sum(1) + 1e-6)
    w_dir = w.unsqueeze(-1) * onehot[:, :-1]  # (B, T-1, 8)
    turn_by_dir = (turn.unsqueeze(-1) * w_dir).sum(1) / (w_dir.sum(1) + 1e-6)

    rms = torch.sqrt((dx * dx + dy * dy).mean(1, keepdim=True)) + 1e-6
    nx, ny = dx / rms, dy / rms
    moments = torch.stack([(nx**a * ny**b).mean(1) for a, b in MOMENTS], 1)
    corr = (dx * dy).sum(1) / (torch.sqrt((dx * dx).sum(1) * (dy * dy).sum(1)) + 1e-6)
    levels = torch.tensor([0.5, 0.75, 0.9, 0.99], dtype=x.dtype, device=x.device)
    speed_q = torch.log1p(torch.quantile(speed, levels, dim=1).T)  # (B, 4)
    accel = torch.sqrt(torch.diff(dx, dim=1) ** 2 + torch.diff(dy, dim=1) ** 2 + 1e-12)
    per_axis = []
    for d in (dx, dy):
        mean_abs = d.abs().mean(1)
        per_axis += [torch.log1p(mean_abs), d.mean(1) / (mean_abs + 1e-6)]
    ux, uy = dx / speed, dy / speed
    curls = []
    for lag in CURL_LAGS:
        both = moving[:, :-lag] * moving[:, lag:]
        curl = ux[:, :-lag] * uy[:, lag:] - uy[:, :-lag] * ux[:, lag:]
        curls.append((curl * both).sum(1) / (both.sum(1) + 1e-6))
    scalars = torch.stack(
        [turn_mean, turn_sign, corr, torch.log1p(accel.mean(1)), moving.mean(1), *per_axis, *curls],
        1,
    )
    return torch.cat([direction_hist, turn_by_dir, moments, speed_q, scalars], 1)


N_STROKE_FEATURES = 2 * N_DIRECTIONS + len(MOMENTS) + 4 + 5 + 4 + len(CURL_LAGS)


class DilatedBlock(nn.Module):
    """Conv1D(k=5, dilation, same padding) → BatchNorm → ReLU on ``(batch, channels, time)``."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, 5, padding=2 * dilation, dilation=dilation)
        self.norm = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class StrokeCNN(nn.Module):
    """Dilated CNN over (dx, dy, speed) + stroke features → dropout → linear logit."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        channels = [3] + [config.hidden] * config.conv_layers
        self.convs = nn.ModuleList(
            DilatedBlock(channels[i], channels[i + 1], 2**i) for i in range(config.conv_layers)
        )
        self.feature_norm = nn.BatchNorm1d(N_STROKE_FEATURES)  # standardises the features
        self.drop = nn.Dropout(config.dropout)
        n_conv_out = 2 * config.hidden if config.conv_layers else 0
        self.head = nn.Linear(n_conv_out + N_STROKE_FEATURES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, window, 2)`` normalised movement → ``(batch,)`` left-hand logits."""
        parts = [self.feature_norm(stroke_features(x))]  # (batch, 41)
        if len(self.convs):
            h = torch.cat([x, x.norm(dim=-1, keepdim=True)], -1).transpose(1, 2)  # (B, 3, T)
            for block in self.convs:
                h = block(h)  # (B, hidden, T)
            parts += [h.mean(-1), h.amax(-1)]
        return self.head(self.drop(torch.cat(parts, 1))).squeeze(-1)


class OneWindowStrokeCNN:
    """The logit of one window by a :class:`StrokeCNN` in eval mode, in numpy.

    Scoring a batch of one, torch spends most of its time dispatching the ~150 small operations
    of :func:`stroke_features` and in its native dilated convolution (it only hands batches of
    more than one to oneDNN). This computes the same function with the eval-mode constants
    folded once: each conv block's batch normalisation folded into its weights, the blocks as
    one matrix product each, the features in numpy. It equals ``net(x)`` up to float32 rounding
    (the order of sums differs); the direction bins use torch's own ``atan2`` on the same
    layout, so no step changes bin. It holds a copy of the weights: build a new one after
    changing them.
    """

    def __init__(self, net: StrokeCNN) -> None:
        with torch.no_grad():
            self.blocks = []
            for block in net.convs:
                conv, norm = block.conv, block.norm
                scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                weight = conv.weight * scale[:, None, None]  # (out, in, 5)
                bias = (conv.bias - norm.running_mean) * scale + norm.bias
                self.blocks.append((weight.reshape(len(weight), -1).contiguous(),
                                    bias[:, None].contiguous(), conv.dilation[0]))
            norm = net.feature_norm
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            self.feature_scale = scale.numpy().copy()
            self.feature_shift = (norm.bias - norm.running_mean * scale).numpy().copy()
            self.head = net.head.weight[0].numpy().astype(np.float64)
            self.head_bias = float(net.head.bias[0])
        self.levels = np.array([0.5, 0.75, 0.9, 0.99], dtype=np.float32)

    def __call__(self, x: np.ndarray) -> float:
        """Normalised movement of one window ``(window, 2)`` float32 → its left-hand logit."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        features = one_window_stroke_features(x, self.levels)
        parts = [features * self.feature_scale + self.feature_shift]
        if self.blocks:
            h = torch.from_numpy(np.concatenate(
                [x.T, np.sqrt(x[:, 0] * x[:, 0] + x[:, 1] * x[:, 1])[None]]))  # (3, T)
            steps = h.shape[1]
            for weight, bias, dilation in self.blocks:
                padded = nn.functional.pad(h, (2 * dilation, 2 * dilation))
                channels, stride = padded.shape
                # (in, 5, T): column t of tap k is padded[:, t + k * dilation]
                taps = padded.as_strided((channels, 5, steps), (stride, dilation, 1))
                h = torch.addmm(bias, weight, taps.reshape(channels * 5, steps)).clamp_(min=0)
            pooled = torch.cat([h.mean(1), h.amax(1)])
            parts.append(pooled.numpy())
        return float(np.concatenate(parts).astype(np.float64) @ self.head + self.head_bias)


def one_window_stroke_features(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """:func:`stroke_features` of one window ``(window, 2)`` float32, in numpy ``(41,)``.

    ``levels`` are the speed quantiles' levels (float32). The same formulas; sums over the
    window are taken together, a few rows at a time, since each numpy call costs more than its
    arithmetic on 200 values.
    """
    f32 = np.float32
    steps = len(x)
    dx, dy = np.ascontiguousarray(x.T)
    sq = dx * dx + dy * dy
    speed = np.sqrt(sq + f32(1e-12))
    moving = (speed > f32(0.05)).astype(f32)
    xt = torch.from_numpy(x)  # torch's atan2 on stroke_features' layout: the same bins
    angle = torch.atan2(xt[:, 1], xt[:, 0]).numpy()
    bins = ((angle + f32(math.pi)) / f32(2 * math.pi) * f32(N_DIRECTIONS)).astype(np.int64)
    np.clip(bins, 0, N_DIRECTIONS - 1, out=bins)
    abs_x, abs_y = np.abs(dx), np.abs(dy)
    (speed_sum, moving_sum, xy_sum, xx_sum, yy_sum, abs_x_sum, abs_y_sum, x_sum, y_sum,
     sq_sum) = np.stack([speed, moving, dx * dy, dx * dx, dy * dy, abs_x, abs_y, dx, dy, sq]
                        ).sum(1)
    direction_hist = (np.bincount(bins, weights=speed, minlength=N_DIRECTIONS).astype(f32)
                      / (speed_sum + f32(1e-6)))

    cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
    dot = dx[:-1] * dx[1:] + dy[:-1] * dy[1:]
    turn = np.arctan2(cross, dot)  # continuous: an ulp from torch's moves no sum noticeably
    w = speed[:-1] * moving[:-1] * moving[1:]
    turn_w = turn * w
    accel = np.sqrt(np.diff(dx) ** 2 + np.diff(dy) ** 2 + f32(1e-12))
    w_sum, turn_sum, sign_sum, accel_sum = np.stack([w, turn_w, np.sign(turn) * w, accel]).sum(1)
    turn_mean = turn_sum / (w_sum + f32(1e-6))
    turn_sign = sign_sum / (w_sum + f32(1e-6))
    step_bins = bins[:-1]
    turn_by_dir = (np.bincount(step_bins, weights=turn_w, minlength=N_DIRECTIONS)
                   / (np.bincount(step_bins, weights=w, minlength=N_DIRECTIONS) + 1e-6)
                   ).astype(f32)

    rms = np.sqrt(sq_sum / f32(steps)) + f32(1e-6)
    nx, ny = dx / rms, dy / rms
    ones = np.ones_like(nx)
    px = np.stack([ones, nx, nx * nx, nx * nx * nx])
    py = np.stack([ones, ny, ny * ny, ny * ny * ny])
    a, b = MOMENT_POWERS
    moments = (px[a] * py[b]).sum(1) / f32(steps)
    corr = xy_sum / (np.sqrt(xx_sum * yy_sum) + f32(1e-6))
    ordered = np.sort(speed)
    ranks = levels * f32(steps - 1)
    below = ranks.astype(np.int64)
    above = np.ceil(ranks).astype(np.int64)
    speed_q = np.log1p(ordered[below] + (ranks - below.astype(f32))
                       * (ordered[above] - ordered[below]))
    mean_abs_x, mean_abs_y = abs_x_sum / f32(steps), abs_y_sum / f32(steps)
    per_axis = [np.log1p(mean_abs_x), (x_sum / f32(steps)) / (mean_abs_x + f32(1e-6)),
                np.log1p(mean_abs_y), (y_sum / f32(steps)) / (mean_abs_y + f32(1e-6))]
    # all lags at once: rows padded with zeros past the window, where `both` is zero
    padded = np.zeros((3, steps + max(CURL_LAGS)), dtype=f32)
    padded[0, :steps], padded[1, :steps], padded[2, :steps] = dx / speed, dy / speed, moving
    ux, uy, mv = padded[:, :steps]
    later = np.stack([padded[:, lag:lag + steps] for lag in CURL_LAGS])  # (lags, 3, steps)
    both = mv * later[:, 2]
    curl = ux * later[:, 1] - uy * later[:, 0]
    curl_sum, both_sum = (curl * both).sum(1), both.sum(1)
    curls = curl_sum / (both_sum + f32(1e-6))
    scalars = np.array([turn_mean, turn_sign, corr, np.log1p(accel_sum / f32(steps - 1)),
                        moving_sum / f32(steps), *per_axis, *curls], dtype=f32)
    return np.concatenate([direction_hist, turn_by_dir, moments, speed_q, scalars])


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised network for ``config`` (seed torch before calling for determinism)."""
    if config.kind == "stroke-cnn":
        return StrokeCNN(config)
    return RecurrentClassifier(config)
