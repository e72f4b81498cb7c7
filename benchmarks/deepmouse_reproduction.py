"""DeepMouse's LSTM, reproduced: its Keras network beside deepmouse's ``lstm`` on the same windows.

DeepMouse's first model (blog iterations 01-03) is ``LSTM(256)`` → ``Dense(1, sigmoid)``, Adam,
binary cross-entropy, batch 64, on 2-s windows of (dx, dy) with idle windows dropped and each
axis divided by fixed constants (3.398, 2.926 px: the mean per-window std of its active
windows). It reported ~75% dev accuracy with windows shuffled at random into train and dev.
Three runs, each on the very same train/dev/test windows (deepmouse's
:func:`~deepmouse.windows.make_splits`):

- ``keras``: that network in Keras 3 on the torch backend, inputs divided by DeepMouse's
  constants (needs ``pip install -e .[keras]``; without it this row is skipped and said so);
- ``lstm``: deepmouse's ``lstm`` family (LSTM 256, no dropout, same optimiser, batch and
  learning rate) with deepmouse's own scaling, the std of the train split's movement;
- ``lstm-fixed``: the same with DeepMouse's constants instead, so the two deepmouse rows differ
  in the scaling only.

Splits: ``random`` (DeepMouse's protocol: non-overlapping windows shuffled, optimistic since
neighbouring windows of one recording land in train and test) and ``chrono`` (first 70% of each
recording trains, next 15% dev, last 15% test). All runs keep the epoch with the lowest dev
loss (deepmouse's rule, applied to Keras by a callback) and score the test windows once, with
those weights. Reported per run: the peak dev accuracy and its epoch (how DeepMouse read its
curves), the kept epoch with its dev and test accuracy, the last epoch's training accuracy, and
the wall time of training. One torch thread per run.

    python benchmarks/deepmouse_reproduction.py --epochs 60 --splits random --cache runs.jsonl
    python benchmarks/deepmouse_reproduction.py --cache runs.jsonl --markdown   # the table
    python benchmarks/deepmouse_reproduction.py --quick --json                  # a smoke run

Every finished run is appended to ``--cache`` (JSON lines) and skipped when rerun with the same
settings, so two processes (one per split) can share a cache and the table is printed from it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy import append_cache, load_cache  # noqa: E402

from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.recordings import load_dataset  # noqa: E402
from deepmouse.windows import OptimisticSplitWarning, Splits, make_splits  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "deepmouse" / "touchpad"
DEEPMOUSE_SCALE = (3.398, 2.926)
"""DeepMouse's x_std and y_std in px/step (blog iteration 02), fixed, not learned."""
RUNS = ("keras", "lstm", "lstm-fixed")
SPLIT_CHOICES = ("random", "chrono", "session")
HIDDEN = 256
BATCH_SIZE = 64
QUICK_EPOCHS = 2
KERAS_INSTALL = "pip install -e .[keras]   (or: pip install 'keras>=3.5')"


class FixedScaleClassifier(HandClassifier):
    """A :class:`HandClassifier` that divides by DeepMouse's constants instead of learning
    ``scale_`` from the training windows."""

    fixed_scale = DEEPMOUSE_SCALE

    def _learn_scale(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.fixed_scale, dtype=np.float64)


# -- Keras ----------------------------------------------------------------------------------


def import_keras() -> ModuleType | None:
    """Keras 3 on the torch backend, or None when it is not installed (or was already imported
    with another backend)."""
    os.environ["KERAS_BACKEND"] = "torch"  # read once, when keras is first imported
    try:
        keras = importlib.import_module("keras")
    except ImportError:
        return None
    if not hasattr(keras, "version") or keras.backend.backend() != "torch":
        return None
    _fused_lstm_on_cpu()
    return keras


def _fused_lstm_on_cpu() -> None:
    """Let Keras's torch backend run its LSTM on the CPU with torch's fused LSTM kernel.

    The backend calls the fused kernel (``torch._VF.lstm``, in ``_cudnn_lstm``) only for CUDA
    tensors; on the CPU it falls back to a Python loop over the time steps, about 20 times
    slower for 200 steps × 256 units. Both compute the same LSTM (Keras's gate order and
    weights, converted by Keras itself); :func:`keras_lstm_paths_agree` checks it.
    """
    rnn = importlib.import_module("keras.src.backend.torch.rnn")
    if getattr(rnn, "_deepmouse_fused", False):
        return

    def fused(inputs, h, c, kernel, recurrent_kernel, bias, activation, recurrent_activation,
              return_sequences, batch_first):
        import torch

        keras_gates = (getattr(activation, "__name__", ""),
                       getattr(recurrent_activation, "__name__", ""))
        if keras_gates != ("tanh", "sigmoid"):  # the fused kernel has only these
            return rnn._deepmouse_loop(inputs, h, c, kernel, recurrent_kernel, bias, activation,
                                       recurrent_activation, return_sequences, batch_first)
        x = inputs if batch_first else inputs.permute(1, 0, 2)
        last, out, states = rnn._cudnn_lstm(x, h, c, kernel, recurrent_kernel, bias,
                                            return_sequences, torch.device("cpu"))
        return last, out if batch_first else out.permute(1, 0, 2), states

    rnn._deepmouse_loop = rnn._fallback_lstm
    rnn._fallback_lstm = fused
    rnn._deepmouse_fused = True


def keras_lstm_paths_agree(keras: ModuleType, seed: int = 0) -> float:
    """Largest difference between Keras's own CPU loop and the fused kernel on one random
    batch through a fresh ``LSTM(256)`` (float32 rounding: about 1e-7)."""
    import torch

    rnn = importlib.import_module("keras.src.backend.torch.rnn")
    keras.utils.set_random_seed(seed)
    layer = keras.layers.LSTM(HIDDEN)
    x = torch.as_tensor(np.random.default_rng(seed).normal(size=(8, 50, 2)), dtype=torch.float32)
    layer.build(tuple(x.shape))
    cell = layer.cell
    args = (x, torch.zeros(8, HIDDEN), torch.zeros(8, HIDDEN), cell.kernel.value,
            cell.recurrent_kernel.value, cell.bias.value, cell.activation,
            cell.recurrent_activation, False, True)
    with torch.no_grad():
        loop = rnn._deepmouse_loop(*args)[0]
        fused = rnn._cudnn_lstm(*args[:6], False, torch.device("cpu"))[0]
    return float((loop - fused).abs().max())


def fit_keras(keras: ModuleType, splits: Splits, epochs: int, lr: float, seed: int) -> dict:
    """DeepMouse's Keras model trained on ``splits``; the lowest-dev-loss epoch's weights are
    kept and score the test windows."""
    import torch

    torch.set_num_threads(1)
    keras.utils.set_random_seed(seed)
    scale = np.asarray(DEEPMOUSE_SCALE, dtype=np.float32)
    X_train, X_dev, X_test = (part.X / scale for part in (splits.train, splits.dev, splits.test))
    model = keras.Sequential([
        keras.Input(splits.train.X.shape[1:]),
        keras.layers.LSTM(HIDDEN),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss="binary_crossentropy", metrics=["accuracy"])

    class KeepBest(keras.callbacks.Callback):
        """The weights of the epoch with the lowest dev loss (as deepmouse's training keeps)."""

        def __init__(self) -> None:
            super().__init__()
            self.best_loss, self.best_epoch, self.weights = np.inf, 0, None

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if logs["val_loss"] < self.best_loss:
                self.best_loss, self.best_epoch = logs["val_loss"], epoch + 1
                self.weights = self.model.get_weights()

    keep = KeepBest()
    start = time.perf_counter()
    fitted = model.fit(X_train, splits.train.y.astype(np.float32), batch_size=BATCH_SIZE,
                       epochs=epochs, validation_data=(X_dev, splits.dev.y.astype(np.float32)),
                       callbacks=[keep], shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    model.set_weights(keep.weights)
    p_left = model.predict(X_test, batch_size=512, verbose=0).ravel()
    h = fitted.history
    return {
        "kept_epoch": keep.best_epoch,
        "history": {"train_accuracy": h["accuracy"], "dev_accuracy": h["val_accuracy"],
                    "dev_loss": h["val_loss"]},
        "test_accuracy": float(np.mean((p_left > 0.5) == (splits.test.y == 1))),
        "train_seconds": seconds,
        "scale": list(DEEPMOUSE_SCALE),
        "keras": keras.version(),
        "lstm_paths_max_difference": keras_lstm_paths_agree(keras, seed),
    }


# -- deepmouse ------------------------------------------------------------------------------


def fit_deepmouse(run: str, splits: Splits, epochs: int, lr: float, seed: int) -> dict:
    """deepmouse's ``lstm`` family with DeepMouse's settings; ``lstm-fixed`` divides by
    DeepMouse's constants instead of learning the scale."""
    cls = FixedScaleClassifier if run == "lstm-fixed" else HandClassifier
    clf = cls("lstm", hidden=HIDDEN, lr=lr, batch_size=BATCH_SIZE, dropout=0.0, epochs=epochs,
              device="cpu", threads=1, seed=seed)
    start = time.perf_counter()
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    seconds = time.perf_counter() - start
    rows = clf.history_
    return {
        "kept_epoch": clf.best_epoch_,
        "history": {k: [r[k] for r in rows] for k in ("train_accuracy", "dev_accuracy",
                                                       "dev_loss")},
        "test_accuracy": float(clf.score(splits.test.X, splits.test.y)),
        "train_seconds": seconds,
        "scale": [float(s) for s in clf.scale_],
    }


# -- the benchmark --------------------------------------------------------------------------


def splits_for(data: Path, method: str, seed: int) -> Splits:
    """Non-overlapping 2-s windows (the lstm family's and DeepMouse's), split by ``method``."""
    config = HandClassifier("lstm").window_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimisticSplitWarning)  # said in the table instead
        return make_splits(load_dataset(data), config, method, seed=seed)


def run_one(run: str, splits: Splits, epochs: int, lr: float, seed: int,
            keras: ModuleType | None) -> dict:
    """Train one run on ``splits`` and summarise it (the per-epoch history included)."""
    load_before = os.getloadavg()[0]
    if run == "keras":
        out = fit_keras(keras, splits, epochs, lr, seed)
    else:
        out = fit_deepmouse(run, splits, epochs, lr, seed)
    dev_acc = out["history"]["dev_accuracy"]
    peak = int(np.argmax(dev_acc))
    kept = out["kept_epoch"]
    return {
        "run": run,
        "implementation": "keras" if run == "keras" else "deepmouse",
        "scaling": "learned" if run == "lstm" else "deepmouse-constants",
        "split": splits.method,
        "epochs": epochs,
        "lr": lr,
        "batch_size": BATCH_SIZE,
        "hidden": HIDDEN,
        "seed": seed,
        "windows": {name: len(getattr(splits, name)) for name in ("train", "dev", "test")},
        "peak_dev_accuracy": float(dev_acc[peak]),
        "peak_dev_epoch": peak + 1,
        "kept_epoch": kept,
        "kept_dev_accuracy": float(dev_acc[kept - 1]),
        "test_accuracy": out["test_accuracy"],
        "final_train_accuracy": float(out["history"]["train_accuracy"][-1]),
        "train_seconds": round(out["train_seconds"], 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **{k: v for k, v in out.items() if k not in ("kept_epoch", "test_accuracy",
                                                     "train_seconds")},
    }


def benchmark(data: Path, split_names: list[str], runs: list[str], epochs: int, lr: float,
              seed: int, cache: Path | None, keras: ModuleType | None, log=None) -> list[dict]:
    """Every (split, run), from ``cache`` where it is there; Keras runs skipped without Keras."""
    done = load_cache(cache)
    results = []
    for method in split_names:
        splits = None
        for run in runs:
            key = f"{data.name}|{method}|{run}|epochs={epochs}|lr={lr:g}|seed={seed}"
            if key in done:
                row = done[key]
            elif run == "keras" and keras is None:
                continue
            else:
                splits = splits or splits_for(data, method, seed)
                row = {"key": key, "data": str(data), **run_one(run, splits, epochs, lr, seed,
                                                                 keras)}
                append_cache(cache, row)
            if log:
                log(f"{method:7s} {run:10s} peak dev {row['peak_dev_accuracy']:.3f} "
                    f"@ {row['peak_dev_epoch']}, kept {row['kept_epoch']} "
                    f"(dev {row['kept_dev_accuracy']:.3f}), test {row['test_accuracy']:.3f}, "
                    f"train {row['final_train_accuracy']:.3f} ({row['train_seconds']:.0f} s)")
            results.append(row)
    return results


LABELS = {
    "keras": "DeepMouse's network, Keras 3 (torch backend)",
    "lstm": "deepmouse `lstm`",
    "lstm-fixed": "deepmouse `lstm`",
}


def markdown(results: list[dict]) -> str:
    lines = [
        "| model | scaling (x, y px) | split | epochs | peak dev acc @ epoch | kept epoch "
        "(lowest dev loss): dev acc | **test acc** | final train acc | train wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        scale = ", ".join(f"{s:.3f}" for s in r["scale"])
        how = "DeepMouse's" if r["scaling"] == "deepmouse-constants" else "learned (train std)"
        split = r["split"] + (" (shuffled, optimistic)" if r["split"] == "random" else "")
        lines.append(
            f"| {LABELS[r['run']]} | {how}: {scale} | {split} | {r['epochs']} "
            f"| {r['peak_dev_accuracy']:.3f} @ {r['peak_dev_epoch']} "
            f"| {r['kept_epoch']}: {r['kept_dev_accuracy']:.3f} | **{r['test_accuracy']:.3f}** "
            f"| {r['final_train_accuracy']:.3f} | {r['train_seconds']:.0f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA,
                    help="recordings folder (default: the DeepMouse touchpad data)")
    ap.add_argument("--splits", default="random,chrono",
                    help=f"comma-separated, of {', '.join(SPLIT_CHOICES)}")
    ap.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {', '.join(RUNS)}")
    ap.add_argument("--epochs", type=int, default=60,
                    help="epochs for every run (DeepMouse trained 200-300)")
    ap.add_argument("--lr", type=float, default=1e-3,
                    help="Adam learning rate (DeepMouse: 1e-3 for 200 epochs, later 1e-4 for 300)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="JSON-lines file to resume from")
    ap.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown table")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = ap.parse_args(argv)
    split_names = [s for s in args.splits.split(",") if s]
    runs = [r for r in args.runs.split(",") if r]
    if set(split_names) - set(SPLIT_CHOICES) or not split_names:
        ap.error(f"--splits: choose from {', '.join(SPLIT_CHOICES)}")
    if set(runs) - set(RUNS) or not runs:
        ap.error(f"--runs: choose from {', '.join(RUNS)}")
    epochs = QUICK_EPOCHS if args.quick else args.epochs
    if epochs < 1:
        ap.error("--epochs must be >= 1")
    notes = [
        "same train/dev/test windows for every run of a split (deepmouse's make_splits)",
        "every run keeps its lowest-dev-loss epoch; test windows scored once, with it",
        f"{epochs} epochs at lr {args.lr:g} (DeepMouse: 200 at 1e-3, then 300 at 1e-4)",
    ]
    keras = import_keras() if "keras" in runs else None
    if "keras" in runs and keras is None:
        message = f"Keras rows skipped: Keras 3 is not installed; {KERAS_INSTALL}"
        notes.append(message)
        print(message, file=sys.stderr)
    log = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.time()
    results = benchmark(args.data, split_names, runs, epochs, args.lr, args.seed, args.cache,
                        keras, log)
    report = {
        "command": "python benchmarks/deepmouse_reproduction.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "seed": args.seed,
        "data": str(args.data),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "notes": notes,
        "results": results,
        "seconds": round(time.time() - started, 1),
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    if args.json:
        print(json.dumps(report))
    else:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
