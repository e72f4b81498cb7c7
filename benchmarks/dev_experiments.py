"""Dev-only experiments behind the "not adopted" rows of benchmarks/RESULTS.md.

Every variant trains on the benchmark's training windows and is scored on **dev** windows only
(touchpad: the chrono dev block; mouse: the dev session pair of the first ``--folds`` rotated
folds of ``benchmarks/accuracy.py``). The test windows are never predicted here. One JSON line
per (variant, task, fold) on stdout.

    python benchmarks/dev_experiments.py --variant default
    python benchmarks/dev_experiments.py --variant per-window-norm
    python benchmarks/dev_experiments.py --variant time-warp
    python benchmarks/dev_experiments.py --variant cosine-ema
    python benchmarks/dev_experiments.py --variant feature-logistic
    python benchmarks/dev_experiments.py --variant segments --tasks mouse
    python benchmarks/dev_experiments.py --variant aggregators

Variants (everything else as ``stroke-cnn``, the default when they ran, window 200, train stride
20):

- ``default``: the default model, dev accuracy and decision after 10 s.
- ``per-window-norm``: every window divided by its own RMS step length before the model
  (invariance to speed drift).
- ``time-warp``: rotation/scale augmentation plus a random time warp of ±20% per window.
- ``cosine-ema``: Adam with cosine learning-rate decay to 0, last epoch (no dev checkpoint
  choice), and an exponential moving average of the weights (decay 0.998).
- ``feature-logistic``: logistic regression (C = 0.1) on the 41 stroke features, alone and
  averaged (log-odds) with the default network.
- ``segments``: 8-s windows scored by the 2-s default model as the mean log-odds of its 2-s
  segments (hop 1 s), beside a network trained on 8-s windows, and the two averaged.
- ``mirror-swap-30`` / ``mirror-swap-all``: add mirrored copies (x → −x) of 30% / all of the
  training windows *with the other hand's label* — if the two hands moved as mirror images,
  this would double the data and force the model onto handedness-of-curvature cues.
- ``minirocket-average``: the ``rocket`` family (MiniRocket + ridge, as in the benchmark) and the
  default network, each log-odds divided by its spread on training windows, summed; with
  ``--window 800`` on 8-s windows.
- ``hidden-64``: 64 channels per conv block instead of 32, 15 epochs instead of 10.
- ``aggregators``: the decision after 10 s from the default's dev log-odds with other ways
  of combining windows (clipped log-odds, tanh, majority vote, mean probability).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import DATA, mouse_folds  # noqa: E402

import deepmouse.train as train_module  # noqa: E402
from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.evaluate import evaluate_windows  # noqa: E402
from deepmouse.models import build_model, stroke_features  # noqa: E402
from deepmouse.recordings import load_dataset  # noqa: E402
from deepmouse.windows import WindowConfig, fit_scale, make_splits  # noqa: E402

VARIANTS = ("default", "per-window-norm", "time-warp", "cosine-ema", "feature-logistic",
            "segments", "aggregators", "hidden-64", "mirror-swap-30", "mirror-swap-all",
            "minirocket-average")
AGGREGATORS = {
    "mean log-odds": lambda z: z,
    "clip ±1": lambda z: np.clip(z, -1, 1),
    "clip ±2": lambda z: np.clip(z, -2, 2),
    "tanh": np.tanh,
    "vote": np.sign,
    "mean probability": lambda z: 1 / (1 + np.exp(-z)) - 0.5,
}

NETWORK = "stroke-cnn"
"""The model every variant starts from (the default of ``deepmouse train`` when they ran)."""


def accuracy(z: np.ndarray, y: np.ndarray) -> float:
    return round(float(((z > 0) == (y == 1)).mean()), 3)


def scores(z: np.ndarray, dev, window: int = 200) -> dict:
    """Dev accuracy and decision after 10 s of log-odds ``z`` of dev windows."""
    return {"accuracy": accuracy(z, dev.y),
            "decision_10s": decision10(z, dev.y, dev.recording, window)}


def decision10(z: np.ndarray, y: np.ndarray, recording: np.ndarray, window: int) -> float:
    p = 1 / (1 + np.exp(-z))
    return round(evaluate_windows(p, y, recording, window / 100)["decision_accuracy"]["10"], 3)


def per_window_norm(X: np.ndarray) -> np.ndarray:
    """``(n, window, 2)`` → each window divided by its RMS step length."""
    rms = np.sqrt((X**2).sum(-1).mean(1))[:, None, None] + 1e-6
    return (X / rms).astype(np.float32)


def time_warp_augment(x: torch.Tensor, strength: float, generator: torch.Generator):
    """Rotation/scale augmentation, then resample each window's path at a speed of ±20%."""
    x = _rotate_scale(x, strength, generator)
    n, length, _ = x.shape
    speed = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.2
    t = torch.arange(length, dtype=torch.float32)[None] * speed[:, None]
    t = t + torch.rand(n, 1, generator=generator) * (length - 1 - t[:, -1:]).clamp(min=0)
    t = t.clamp(0, length - 1)
    path = torch.cumsum(x, 1)
    i0 = t.floor().long().clamp(max=length - 2)
    w = (t - i0)[..., None]
    at = lambda i: torch.gather(path, 1, i[..., None].expand(-1, -1, 2))  # noqa: E731
    warped = at(i0) * (1 - w) + at(i0 + 1) * w
    return torch.diff(warped, dim=1, prepend=warped[:, :1])


_rotate_scale = train_module.augment_batch


def cosine_ema(Xtr, ytr, Xdv, ydv, epochs: int = 10, seed: int = 0) -> dict:
    """The default network trained with cosine LR decay; last-epoch and EMA dev accuracy."""
    clf = HandClassifier(NETWORK, device="cpu")
    torch.manual_seed(seed)
    net = build_model(clf.family_object().model_config(clf.resolved_params()))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    X, y = torch.as_tensor(Xtr), torch.as_tensor(ytr, dtype=torch.float32)
    swa = torch.optim.swa_utils
    ema = swa.AveragedModel(net, multi_avg_fn=swa.get_ema_multi_avg_fn(0.998), use_buffers=True)
    steps, k = epochs * math.ceil(len(X) / 64), 0
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), 64):
            for group in opt.param_groups:
                group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * k / steps))
            idx = order[i : i + 64]
            loss = nn.functional.binary_cross_entropy_with_logits(
                net(train_module.augment_batch(X[idx], 0.25, gen)), y[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema.update_parameters(net)
            k += 1
    cpu = torch.device("cpu")
    return {"last_epoch": accuracy(train_module.predict_logits(net, Xdv, cpu), ydv),
            "ema": accuracy(train_module.predict_logits(ema.module, Xdv, cpu), ydv)}


def feature_logistic(splits) -> tuple[np.ndarray, np.ndarray]:
    """Dev log-odds of stroke-feature logistic regression and of the default network."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scale = fit_scale(splits.train.X)

    def features(X):
        with torch.no_grad():
            return stroke_features(torch.from_numpy((X / scale).astype(np.float32))).numpy()

    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    logistic.fit(features(splits.train.X), splits.train.y)
    net = HandClassifier(NETWORK, device="cpu").fit(
        splits.train.X, splits.train.y, splits.dev.X, splits.dev.y
    )
    return logistic.decision_function(features(splits.dev.X)), net.decision_function(splits.dev.X)


def segment_log_odds(clf: HandClassifier, X: np.ndarray, segment: int, hop: int) -> np.ndarray:
    """Mean log-odds of the ``segment``-step pieces (every ``hop`` steps) of windows ``X``."""
    starts = range(0, X.shape[1] - segment + 1, hop)
    pieces = np.stack([X[:, s : s + segment] for s in starts], 1)  # (n, pieces, segment, 2)
    n, m = pieces.shape[:2]
    return clf.decision_function(pieces.reshape(n * m, segment, 2)).reshape(n, m).mean(1)


def decision_by(z, y, recording, k: int, transform) -> float:
    correct = total = 0
    for rec in np.unique(recording):
        idx = np.flatnonzero(recording == rec)
        if len(idx) < k:
            continue
        csum = np.concatenate([[0.0], np.cumsum(transform(z[idx]))])
        mean = (csum[k:] - csum[:-k]) / k
        correct += int(np.sum((mean > 0) == (y[idx][0] == 1)))
        total += len(mean)
    return round(correct / total, 3)


def run(variant: str, task: str, dataset, fold, window: int = 200) -> dict:
    def splits_for(window: int, stride: int | None = None):
        config = WindowConfig(window=window, stride=stride or window // 10)
        if fold is None:
            return make_splits(dataset, config, "chrono")
        return make_splits(dataset, config, "session", test_recordings=fold[0],
                           dev_recordings=fold[1])

    s = splits_for(window)
    train, dev = s.train, s.dev
    out: dict = {}
    if variant in ("default", "aggregators", "time-warp", "hidden-64"):
        if variant == "time-warp":
            train_module.augment_batch = time_warp_augment
        params = {"hidden": 64, "epochs": 15} if variant == "hidden-64" else {}
        clf = HandClassifier(NETWORK, device="cpu", **params).fit(train.X, train.y, dev.X, dev.y)
        train_module.augment_batch = _rotate_scale
        z = clf.decision_function(dev.X)
        out = scores(z, dev)
        if variant == "aggregators":
            out["decision_10s"] = {n: decision_by(z, dev.y, dev.recording, 5, f)
                                   for n, f in AGGREGATORS.items()}
    elif variant == "minirocket-average":
        net = HandClassifier(NETWORK, device="cpu").fit(train.X, train.y, dev.X, dev.y)
        quarter = splits_for(window, stride=window // 4).train  # the benchmark's MiniRocket stride
        rocket = HandClassifier("rocket", seed=0).fit(quarter.X, quarter.y)
        reference = quarter.X[::3]
        z_net = net.decision_function(dev.X) / net.decision_function(reference).std()
        z_rocket = rocket.decision_function(dev.X) / rocket.decision_function(reference).std()
        out = {name: scores(z, dev, window) for name, z in
               (("network", z_net), ("minirocket", z_rocket), ("average", z_net + z_rocket))}
    elif variant.startswith("mirror-swap"):
        fraction = 1.0 if variant.endswith("all") else 0.3
        pick = np.random.default_rng(0).random(len(train)) < fraction
        mirrored = train.X[pick] * np.array([-1.0, 1.0], dtype=np.float32)
        clf = HandClassifier(NETWORK, device="cpu").fit(
            np.concatenate([train.X, mirrored]), np.concatenate([train.y, 1 - train.y[pick]]),
            dev.X, dev.y,
        )
        out = scores(clf.decision_function(dev.X), dev)
    elif variant == "per-window-norm":
        clf = HandClassifier(NETWORK, device="cpu").fit(
            per_window_norm(train.X), train.y, per_window_norm(dev.X), dev.y
        )
        z = clf.decision_function(per_window_norm(dev.X))
        out = scores(z, dev)
    elif variant == "cosine-ema":
        scale = fit_scale(train.X)
        out = cosine_ema((train.X / scale).astype(np.float32), train.y,
                         (dev.X / scale).astype(np.float32), dev.y)
    elif variant == "feature-logistic":
        z_logistic, z_net = feature_logistic(s)
        out = {name: scores(z, dev)
               for name, z in (("logistic", z_logistic), ("network", z_net),
                               ("average", (z_logistic + z_net) / 2))}
    elif variant == "segments":
        long = splits_for(800)
        short_net = HandClassifier(NETWORK, device="cpu").fit(train.X, train.y, dev.X, dev.y)
        long_net = HandClassifier(NETWORK, device="cpu").fit(long.train.X, long.train.y, long.dev.X,
                                                    long.dev.y)
        z_seg = segment_log_odds(short_net, long.dev.X, 200, 100)
        z_long = long_net.decision_function(long.dev.X)
        out = {"8s_by_2s_segments": accuracy(z_seg, long.dev.y),
               "8s_network": accuracy(z_long, long.dev.y),
               "average": accuracy((z_seg + z_long) / 2, long.dev.y)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=VARIANTS, default="default")
    ap.add_argument("--tasks", default="touchpad,mouse")
    ap.add_argument("--folds", type=int, default=3, help="first N mouse folds")
    ap.add_argument("--window", type=int, default=200,
                    help="window in steps (the touchpad only runs at 200; segments fixes its own)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    plan = []
    tasks = args.tasks.split(",")
    if "touchpad" in tasks and args.variant != "segments" and args.window == 200:
        plan.append(("touchpad", load_dataset(DATA / "touchpad"), None))
    if "mouse" in tasks:
        mouse = load_dataset(DATA / "mouse")
        plan += [("mouse", mouse, (t, d)) for t, d, _ in mouse_folds(mouse)[: args.folds]]
    for task, dataset, fold in plan:
        start = time.perf_counter()
        result = run(args.variant, task, dataset, fold, args.window)
        names = None if fold is None else [Path(dataset.recordings[i].name).stem for i in fold[1]]
        print(json.dumps({"variant": args.variant, "task": task, "dev": names or "chrono dev",
                          **result, "seconds": round(time.perf_counter() - start)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
