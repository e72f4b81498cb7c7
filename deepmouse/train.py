"""The training loop, in one place: Adam, binary cross-entropy, best-on-dev checkpoint.

:func:`train_model` is what ``deepmouse train``, ``sweep`` and ``tune`` all call. It takes a
network, a :class:`TrainConfig` and arrays, returns the history and the best weights, and prints
nothing; pass ``on_epoch`` to watch it (the CLI draws its progress bar from that).
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from deepmouse.models import RecurrentClassifier


@dataclass
class TrainConfig:
    """How to train.

    Attributes:
        epochs: passes over the training windows.
        batch_size: windows per gradient step.
        lr: Adam learning rate.
        seed: seeds Python, NumPy and torch; same seed and data → same weights on CPU.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        patience: stop after this many epochs without a better dev loss (``None``: never).
        augment: random rotation (±``augment`` radians) and scale (±``augment``) of train
            windows; a physically plausible change that never mirrors (mirroring swaps hands).
        threads: torch CPU threads (``None``: torch's default).
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 0
    device: str = "auto"
    patience: int | None = None
    augment: float = 0.0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What training produced.

    Attributes:
        history: one dict per epoch: epoch, train_loss, train_accuracy, dev_loss,
            dev_accuracy, seconds.
        best_epoch: epoch (1-based) whose weights were kept (lowest dev loss).
        best_state: the kept weights (a state dict on the CPU).
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_state: dict = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA GPU")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment_batch(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each window ``(batch, window, 2)`` by a small random angle and scale it."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * strength
    scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * strength
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return torch.einsum("btj,bij->bti", x, rot.to(x.device))


@torch.no_grad()
def predict_logits(
    net: nn.Module, X: np.ndarray, device: torch.device, batch_size: int = 512
) -> np.ndarray:
    """Left-hand logits ``(n,)`` for normalised windows ``(n, window, 2)``."""
    net.eval()
    out = [
        net(torch.as_tensor(X[i : i + batch_size], dtype=torch.float32, device=device)).cpu()
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def _loss_and_accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    loss = nn.functional.binary_cross_entropy_with_logits(
        torch.as_tensor(logits), torch.as_tensor(y, dtype=torch.float32)
    )
    return float(loss), float(np.mean((logits > 0) == (y == 1)))


def train_model(
    net: RecurrentClassifier,
    config: TrainConfig,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_dev: np.ndarray | None = None,
    y_dev: np.ndarray | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place and load the best-on-dev weights into it.

    Args:
        net: a freshly built network (see :func:`deepmouse.models.build_model`).
        X_train: normalised windows ``(n_train, window, 2)``; ``y_train`` ``(n_train,)`` in {0, 1}.
        X_dev, y_dev: dev windows for checkpoint selection and early stopping. Without them the
            weights of the last epoch are kept.
        on_epoch: called with each epoch's history row.

    Returns:
        The :class:`TrainResult`; ``net`` holds the best weights, in eval mode.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    seed_everything(config.seed)
    net.to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(config.seed)
    X_t = torch.as_tensor(X_train, dtype=torch.float32)
    y_t = torch.as_tensor(y_train, dtype=torch.float32)
    has_dev = X_dev is not None and y_dev is not None and len(y_dev) > 0
    result = TrainResult()
    best_loss, since_best = math.inf, 0

    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(X_t), generator=generator)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            xb, yb = X_t[idx], y_t[idx]
            if config.augment:
                xb = augment_batch(xb, config.augment, generator)
            xb, yb = xb.to(device), yb.to(device)
            logits = net(xb)
            loss = loss_fn(logits, yb)
            penalty = net.recurrent_penalty() if hasattr(net, "recurrent_penalty") else 0.0
            optimiser.zero_grad(set_to_none=True)
            (loss + penalty).backward()
            optimiser.step()
            total += loss.item() * len(idx)
            correct += int(((logits > 0) == (yb == 1)).sum())
            seen += len(idx)
        row = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "train_accuracy": correct / max(seen, 1),
            "dev_loss": float("nan"),
            "dev_accuracy": float("nan"),
        }
        if has_dev:
            dev_logits = predict_logits(net, X_dev, device)
            row["dev_loss"], row["dev_accuracy"] = _loss_and_accuracy(dev_logits, y_dev)
        row["seconds"] = time.perf_counter() - start
        result.history.append(row)
        score = row["dev_loss"] if has_dev else -epoch
        if score < best_loss:
            best_loss, since_best = score, 0
            result.best_epoch = epoch
            result.best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            since_best += 1
        if on_epoch is not None:
            on_epoch(row)
        if config.patience is not None and has_dev and since_best >= config.patience:
            break

    net.load_state_dict(copy.deepcopy(result.best_state))
    net.eval()
    return result
