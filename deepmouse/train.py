"""The training loop, in one place: Adam, binary cross-entropy, best-on-dev checkpoint.

:func:`train_model` is what every network family fits with
(:mod:`deepmouse.families.network`). It takes a network, a :class:`TrainConfig` and arrays,
returns the history and the best weights, and prints nothing; pass ``on_epoch`` to watch it (the
CLI draws its progress bar from that).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepmouse.atomic import atomic_path

MAX_LR = 1.0
"""Adam moves every weight by up to about ``lr`` a step: beyond 1 nothing is learned, and
beyond float32's range the optimiser cannot even hold the value."""
MAX_THREADS = 1024
"""A generous cap: more threads only slow these small networks down, and OpenMP aborts the whole
process when it cannot create as many as asked for."""


@dataclass
class TrainConfig:
    """How to train (the values come from a family's parameters, see
    :mod:`deepmouse.families.network`).

    Attributes:
        epochs: passes over the training windows.
        batch_size: windows per gradient step.
        lr: Adam learning rate.
        seed: seeds Python, NumPy and torch; same seed and data → same weights on CPU.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        patience: stop after this many epochs without a better dev loss (``None``: never).
        augment: random rotation (±``augment`` radians) and scale (±``augment``) of train
            windows; a physically plausible change that never mirrors (mirroring swaps hands).
        threads: torch CPU threads (``None``: torch's default). These small networks train
            fastest on one thread, and several threads slow down badly when other work shares
            the cores (benchmarks/RESULTS.md).
    """

    epochs: int
    batch_size: int
    lr: float
    seed: int
    device: str
    patience: int | None
    augment: float
    threads: int | None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 < self.lr <= MAX_LR:
            raise ValueError(f"lr must be in (0, {MAX_LR:g}], got {self.lr}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if not 0.0 <= self.augment < 1.0:
            raise ValueError(f"augment must be in [0, 1), got {self.augment}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise ValueError(f"threads must be in [1, {MAX_THREADS}], got {self.threads}")

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


@torch.inference_mode()
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


RESUMABLE_FIELDS = ("batch_size", "lr", "seed", "augment")
"""Settings that must match for a checkpoint to be resumed (epochs and patience may change)."""


def _data_digest(X: np.ndarray, y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(X).tobytes() + y.tobytes()).hexdigest()


def save_checkpoint(
    path: Path,
    net: nn.Module,
    optimiser: torch.optim.Optimizer,
    generator: torch.Generator,
    result: TrainResult,
    state: dict,
) -> None:
    """Everything needed to continue training after ``state["epoch"]``, as safetensors.

    Tensors: the network (``net.*``), Adam's moments (``opt.<param>.<name>``), the best weights
    so far (``best.*``) and the random generators; the rest is JSON metadata. Written to a
    temporary file and renamed, so a crash mid-write leaves the previous checkpoint.
    """
    from safetensors.torch import save_file

    opt = optimiser.state_dict()
    tensors = {f"net.{k}": v.detach().cpu() for k, v in net.state_dict().items()}
    tensors |= {f"best.{k}": v for k, v in result.best_state.items()}
    for index, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"opt.{index}.{name}"] = torch.as_tensor(value).detach().cpu()
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "state": state,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "param_groups": opt["param_groups"],
    }
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"checkpoint": json.dumps(meta)})


def load_checkpoint(
    path: Path,
    net: nn.Module,
    optimiser: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[TrainResult, dict]:
    """Restore what :func:`save_checkpoint` wrote; returns the result so far and the state."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {})["checkpoint"])
        tensors = load_file(str(path))
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable checkpoint ({exc}); delete it to start over") from (
            None
        )
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    opt_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    optimiser.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    return TrainResult(meta["history"], meta["best_epoch"], best), meta["state"]


def train_model(
    net: nn.Module,
    config: TrainConfig,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_dev: np.ndarray | None = None,
    y_dev: np.ndarray | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint: str | Path | None = None,
) -> TrainResult:
    """Train ``net`` in place and load the best-on-dev weights into it.

    Args:
        net: a freshly built network (see :func:`deepmouse.models.build_model`).
        X_train: normalised windows ``(n_train, window, 2)``; ``y_train`` ``(n_train,)`` in {0, 1}.
        X_dev, y_dev: dev windows for checkpoint selection and early stopping. Without them the
            weights of the last epoch are kept.
        on_epoch: called with each epoch's history row.
        checkpoint: a file written after every epoch; if it exists when training starts (same
            data and settings), training continues from it — the result is the same as an
            uninterrupted run.

    Returns:
        The :class:`TrainResult`; ``net`` holds the best weights, in eval mode.
    """
    if config.threads and resolve_device(config.device).type == "cpu":
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
    best_loss, since_best, first_epoch = math.inf, 0, 1
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    fingerprint = {
        "settings": {k: getattr(config, k) for k in RESUMABLE_FIELDS},
        "data": _data_digest(X_train, y_train),
    }
    if checkpoint is not None and checkpoint.is_file():
        result, state = load_checkpoint(checkpoint, net, optimiser, generator)
        if state["fingerprint"] != fingerprint:
            raise ValueError(
                f"{checkpoint}: made with other data or settings; delete it to start over"
            )
        best_loss, since_best = state["best_loss"], state["since_best"]
        first_epoch = state["epoch"] + 1
        if state["stopped"]:
            first_epoch = config.epochs + 1

    for epoch in range(first_epoch, config.epochs + 1):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(X_t), generator=generator)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            if len(idx) == 1 and len(order) > 1:
                continue  # a last batch of one window: batch normalisation cannot train on it
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
        stop = config.patience is not None and has_dev and since_best >= config.patience
        if checkpoint is not None:
            state = {"epoch": epoch, "best_loss": best_loss, "since_best": since_best,
                     "stopped": stop, "fingerprint": fingerprint}
            save_checkpoint(checkpoint, net, optimiser, generator, result, state)
        if on_epoch is not None:
            on_epoch(row)
        if stop:
            break

    if not result.best_state:  # every epoch's dev loss was NaN or infinite
        raise ValueError("training diverged: the dev loss was never a finite number (try a "
                         "lower learning rate or smaller penalties)")
    net.load_state_dict(copy.deepcopy(result.best_state))
    net.eval()
    return result
