"""Accuracy on the real DeepMouse recordings, on honest splits, for every model family.

Tasks:

- ``touchpad`` — ``chrono`` split (first 70% of each recording train, next 15% dev, last 15%
  test), window 200 (2 s);
- ``mouse`` — ``session`` split rotated over the 6 recording sessions per hand: fold ``k`` tests
  on session pair ``k`` (right ``r*`` and left ``l*`` file number ``k`` in name order), uses pair
  ``k + 1`` as dev (checkpoint selection only) and trains on the other 4 pairs; windows 200 and
  800 (2 s and 8 s). Mean and spread (standard deviation, min, max) over folds.

Families: DeepMouse's ``lstm`` (LSTM 256, iteration 01), the ``conv-gru`` of its iterations
10-13, the RBF ``svm`` of iteration 05, deepmouse's ``stroke-cnn`` (the default of ``deepmouse
train``), and the strong generic time-series baseline, deepmouse's ``rocket`` family (aeon's
MiniRocket + ridge). Each is scored once on its fold's test
windows: per-window accuracy, loss, ROC AUC and the decision accuracy after 2/5/10/30 s of
movement.

    python benchmarks/accuracy.py --json                 # the whole table as one JSON object
    python benchmarks/accuracy.py --quick                # 2 mouse folds, fewer epochs
    python benchmarks/accuracy.py --families stroke-cnn,svm --tasks mouse --windows 800

Every finished (task, window, family, fold) is appended to ``--cache`` (JSON lines), and a rerun
with the same settings skips what is there, so a long run can be interrupted and resumed.
``--markdown`` prints the table for ``benchmarks/RESULTS.md``. ``--train-all`` also times the
default model trained on every mouse session (the 5-minute goal).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.evaluate import (  # noqa: E402
    evaluate_windows,
    log_odds,
    new_shares,
    sequential_metrics,
    switch_metrics,
)
from deepmouse.families import MissingDependencyError, get_family  # noqa: E402
from deepmouse.live import DEFAULT_HOP  # noqa: E402
from deepmouse.pipeline import fit_dev_decision  # noqa: E402
from deepmouse.recordings import load_dataset  # noqa: E402
from deepmouse.windows import WindowConfig, WindowSet, all_windows, make_splits  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "deepmouse"
HORIZONS = ("2", "5", "10", "30")
SEQUENTIAL_KEYS = ("decided", "accuracy", "median_seconds", "ece")
"""The sequential decision's figures a row keeps (the columns of its table)."""

# Family → (parameters that differ from the family's defaults, training stride as a fraction
# of the window or None for the family's own). DeepMouse trained on non-overlapping windows.
FAMILIES: dict[str, tuple[dict, float | None]] = {
    "lstm": ({"hidden": 256, "lr": 1e-3, "epochs": 10}, None),
    "conv-gru": ({}, None),
    "svm": ({}, None),
    "stroke-cnn": ({}, None),
    # The strong generic time-series baseline: MiniRocket + ridge (aeon);
    # training windows every window/4 (at window/10 the ridge fit on ~15,000 × 10,000 features
    # took over 7 minutes per mouse fold on this machine).
    "rocket": ({}, 0.25),
    # the default: stroke-cnn + rocket, log-odds averaged, on its own windows (every window/4)
    "ensemble": ({}, None),
}
QUICK_EPOCHS = {"lstm": 3, "conv-gru": 10, "stroke-cnn": 5}
CPU_ONE_THREAD = {"device": "cpu", "threads": 1}
"""Where a family takes them: train on the CPU, on one thread (comparable timings)."""


# What DeepMouse reported (blog iterations): dev-set figures, best epoch, windows shuffled at
# random across train and dev — optimistic, not comparable with a held-out test split.
DEEPMOUSE_REPORTED = [
    {"task": "touchpad", "window": 200, "family": "lstm", "accuracy": 0.75,
     "note": "iteration 03: ~75% dev accuracy, best of 300 epochs, random split"},
    {"task": "touchpad", "window": 200, "family": "conv-gru", "accuracy": 0.725,
     "note": "iterations 10-11: dev accuracy 70-75%, random split"},
    {"task": "touchpad", "window": 200, "family": "svm", "accuracy": 0.62,
     "note": "iteration 05: best cross-validated accuracy 62%"},
    {"task": "mouse", "window": 200, "family": "lstm", "accuracy": 0.60,
     "note": "iteration 09: dev accuracy never above 0.6, random split"},
    {"task": "mouse", "window": 800, "family": "conv-gru", "accuracy": 0.80,
     "note": "iteration 13: dev accuracy 'higher than 80%' with 800-step windows, random split"},
]


def available(family: str) -> bool:
    """Whether ``family``'s optional packages are installed."""
    try:
        get_family(family).check_available()
    except MissingDependencyError:
        return False
    return True


def _threads() -> None:
    import torch

    torch.set_num_threads(1)


def mouse_folds(dataset) -> list[tuple[list[int], list[int], str]]:
    """``(test_recordings, dev_recordings, name)`` per fold: pair k tests, pair k+1 is dev."""
    rights = [i for i, r in enumerate(dataset.recordings) if r.label == 0]
    lefts = [i for i, r in enumerate(dataset.recordings) if r.label == 1]
    n = min(len(rights), len(lefts))
    folds = []
    for k in range(n):
        j = (k + 1) % n
        name = (
            f"test {Path(dataset.recordings[rights[k]].name).stem}+"
            f"{Path(dataset.recordings[lefts[k]].name).stem}"
        )
        folds.append(([rights[k], lefts[k]], [rights[j], lefts[j]], name))
    return folds


def run_one(family: str, splits, window: int, quick: bool, seed: int,
            live_test: WindowSet | None = None) -> dict:
    """Train ``family`` on ``splits.train`` (dev for checkpointing) and score ``splits.test``;
    with ``live_test`` (the test windows every :data:`~deepmouse.live.DEFAULT_HOP`, as
    ``live`` scores them), also the sequential decision on those."""
    overrides, _ = FAMILIES[family]
    taken = get_family(family).parameters()
    params = overrides | {k: v for k, v in CPU_ONE_THREAD.items() if k in taken} | {"seed": seed}
    if quick and family in QUICK_EPOCHS:
        params["epochs"] = QUICK_EPOCHS[family]
    clf = HandClassifier(family, **params)
    start = time.perf_counter()
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    seconds = time.perf_counter() - start
    p_dev = clf.predict_proba(splits.dev.X)[:, 1]
    try:  # as deepmouse train does: the decision's constants from dev
        decision = fit_dev_decision(clf, p_dev, splits.dev)
    except ValueError:
        decision = None
    metrics = {
        "dev": evaluate_windows(p_dev, splits.dev.y, splits.dev.recording, splits.config.seconds),
        "test": evaluate_windows(clf.predict_proba(splits.test.X)[:, 1], splits.test.y,
                                 splits.test.recording, splits.config.seconds, decision),
    }
    sequential = metrics["test"].get("sequential")
    switch = metrics["test"].get("switch")
    sequential_live = switch_live = None
    if live_test is not None and decision is not None:
        z = log_odds(clf.predict_proba(live_test.X)[:, 1])
        share = new_shares(live_test.start, live_test.recording, splits.config.seconds)
        args = (z, live_test.y, live_test.recording, splits.config.seconds, decision)
        sequential_live = sequential_metrics(*args, share=share)
        switch_live = switch_metrics(*args, share=share)
    return {
        "train_seconds": round(seconds, 2),
        "train_windows": len(splits.train),
        "test_windows": len(splits.test),
        "best_epoch": clf.best_epoch_,
        "epochs": clf.resolved_params().get("epochs"),
        "dev_accuracy": metrics["dev"]["accuracy"],
        "test": {k: metrics["test"][k]
                 for k in ("accuracy", "loss", "roc_auc", "decision_accuracy")},
        "sequential": _sequential(sequential),
        "switch": _switch(switch),
        "sequential_live": _sequential(sequential_live),
        "switch_live": _switch(switch_live),
    }


def _sequential(metrics: dict | None) -> dict | None:
    return None if metrics is None else {k: metrics[k] for k in SEQUENTIAL_KEYS}


def _switch(metrics: dict | None) -> dict | None:
    return None if metrics is None else {k: metrics[k] for k in ("followed", "median_seconds")}


def summarise(folds: list[dict]) -> dict:
    """Mean, std, min and max over folds of test accuracy, AUC, loss and decision accuracy."""

    def stats(values: list[float | None]) -> dict | None:
        v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=float)
        if not len(v):
            return None
        return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
                "max": float(v.max()), "n": len(v)}

    out = {
        "accuracy": stats([f["test"]["accuracy"] for f in folds]),
        "roc_auc": stats([f["test"]["roc_auc"] for f in folds]),
        "loss": stats([f["test"]["loss"] for f in folds]),
        "dev_accuracy": stats([f["dev_accuracy"] for f in folds]),
        "train_seconds": stats([f["train_seconds"] for f in folds]),
        "decision_accuracy": {
            h: stats([f["test"]["decision_accuracy"].get(h) for f in folds]) for h in HORIZONS
        },
    }
    # the sequential decision at its default threshold, on back-to-back windows and on the
    # overlapping windows live scores (rows cached before they were measured have neither)
    for suffix in ("", "_live"):
        out["sequential" + suffix] = {
            k: stats([(f.get("sequential" + suffix) or {}).get(k) for f in folds])
            for k in SEQUENTIAL_KEYS}
        out["switch_median_seconds" + suffix] = stats(
            [(f.get("switch" + suffix) or {}).get("median_seconds") for f in folds])
    return out


def load_cache(path: Path | None) -> dict[str, dict]:
    if path is None or not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["key"]] = row
    return out


def append_cache(path: Path | None, row: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def benchmark(
    tasks: list[str],
    windows: list[int],
    families: list[str],
    quick: bool,
    n_folds: int | None,
    seed: int,
    cache: Path | None,
    log=None,
) -> list[dict]:
    """Every (task, window, family): per-fold results and their summary."""
    done = load_cache(cache)
    rows = []
    plan: list[tuple[str, int, str, object]] = []
    if "touchpad" in tasks:
        ds = load_dataset(DATA / "touchpad")
        plan.append(("touchpad", 200, "chrono",
                     lambda cfg, ds=ds, **kw: make_splits(ds, cfg, "chrono", **kw)))
    if "mouse" in tasks:
        ds = load_dataset(DATA / "mouse")
        folds = mouse_folds(ds)[: n_folds or None]
        for window in windows:
            for test, dev, name in folds:
                plan.append((
                    "mouse", window, name,
                    lambda cfg, ds=ds, test=test, dev=dev, **kw: make_splits(
                        ds, cfg, "session", test_recordings=test, dev_recordings=dev, **kw
                    ),
                ))
    results: dict[tuple[str, int, str], list[dict]] = {}
    for task, window, fold, split_fn in plan:
        for family in families:
            _, stride_frac = FAMILIES[family]
            stride = max(1, int(window * stride_frac)) if stride_frac else None
            key = f"{task}|{window}|{family}|{fold}|quick={quick}|seed={seed}"
            if key in done:
                row = done[key]
            else:
                config = HandClassifier(family).window_config(window=window, stride=stride)
                stride = config.stride
                splits = split_fn(config)
                live_test = split_fn(config, test_stride=round(DEFAULT_HOP * config.rate)).test
                row = {"key": key, "task": task, "window": window, "family": family,
                       "fold": fold, "stride": stride,
                       **run_one(family, splits, window, quick, seed, live_test)}
                append_cache(cache, row)
            if log:
                d10 = row["test"]["decision_accuracy"].get("10")
                log(f"{task:8s} w{window:<4d} {family:10s} {fold:18s} "
                    f"dev {row['dev_accuracy']:.3f} test {row['test']['accuracy']:.3f} "
                    f"dec10 {'-' if d10 is None else f'{d10:.3f}'} "
                    f"({row['train_seconds']:.0f} s)")
            results.setdefault((task, window, family), []).append(row)
    for (task, window, family), folds_ in results.items():
        rows.append({
            "task": task, "window": window, "family": family,
            "split": "chrono" if task == "touchpad" else "session (rotated)",
            "params": HandClassifier(family, **FAMILIES[family][0]).resolved_params()
            | ({"epochs": QUICK_EPOCHS[family]} if quick and family in QUICK_EPOCHS else {}),
            "stride": folds_[0]["stride"],
            "folds": folds_,
            "summary": summarise(folds_),
        })
    return rows


def train_all_mouse(seed: int, out: Path | None = None) -> dict:
    """Train the default model on every window of every mouse session; time it.

    No dev split (the last epoch is kept). With ``out``, the model file is written there.
    """
    from deepmouse.modelfile import save_model
    from deepmouse.pipeline import RunConfig

    config = RunConfig(dataset=str(DATA / "mouse"), seed=seed)
    wc = config.window_config()
    ds = load_dataset(config.dataset)
    windows = all_windows(ds, WindowConfig(wc.window, wc.rate, wc.window, wc.idle_threshold))
    train = _strided(ds, wc)
    clf = config.classifier()
    start = time.perf_counter()
    clf.fit(train.X, train.y)
    seconds = time.perf_counter() - start
    if out is not None:
        save_model(out, clf, wc, {"dataset": str(DATA / "mouse"), "split": "all",
                                  "dataset_checksum": ds.checksum, "seed": seed})
    return {
        "model_file": None if out is None else str(out),
        "params": clf.resolved_params() | {"family": clf.family},
        "window": wc.to_dict(),
        "train_windows": len(train),
        "windows_non_overlapping": len(windows),
        "train_seconds": round(seconds, 1),
        "torch_threads": _torch_threads(),
        "goal_seconds": 300,
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _strided(ds, wc: WindowConfig):
    """All active windows of every recording at the training stride."""
    from deepmouse.windows import WindowSet, active_mask, cut, movement, resample

    X, y = [], []
    for rec in ds.recordings:
        w = cut(movement(resample(rec, wc.rate)), wc.window, wc.train_stride)
        w = w[active_mask(w, wc.idle_threshold)]
        X.append(w)
        y.append(np.full(len(w), rec.label, dtype=np.int64))
    n = sum(len(v) for v in y)
    return WindowSet(np.concatenate(X), np.concatenate(y), np.zeros(n, np.int64), np.zeros(n))


def fmt(stat: dict | None, spread: bool) -> str:
    if stat is None:
        return "–"
    if spread and stat["n"] > 1:
        return f"{stat['mean']:.3f} ± {stat['std']:.3f}"
    return f"{stat['mean']:.3f}"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(report: dict) -> str:
    lines = [
        "| task | window | family | folds | test accuracy | ROC AUC | decision 2 s | 5 s | 10 s "
        "| 30 s | train s/fold |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        s = row["summary"]
        spread = row["task"] == "mouse"
        d = s["decision_accuracy"]
        lines.append(
            f"| {row['task']} | {row['window']} | {row['family']} | {s['accuracy']['n']} "
            f"| {fmt(s['accuracy'], spread)} | {fmt(s['roc_auc'], spread)} | "
            + " | ".join(fmt(d[h], spread) for h in HORIZONS)
            + f" | {s['train_seconds']['mean']:.0f} |"
        )
    for r in report["deepmouse_reported"]:
        lines.append(
            f"| {r['task']} | {r['window']} | DeepMouse {r['family']} (reported, **dev set, "
            f"optimistic**) | – | {r['accuracy']:.2f} | – | – | – | – | – | – |"
        )
    lines += ["", "The sequential decision at P = 0.95 (trials every 5 s of movement, up to 60 s; "
              "constants fitted on dev, as `deepmouse train` stores them), on test windows back "
              f"to back and every {DEFAULT_HOP:g} s as `live` scores them:", "",
              "| task | window | family | test windows | decided | right when decided | median s "
              "| posterior ECE | switch median s |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["results"]:
        for suffix, windows in (("", "back to back"), ("_live", f"every {DEFAULT_HOP:g} s")):
            q, spread = row["summary"].get("sequential" + suffix) or {}, row["task"] == "mouse"
            if not any(q.values()):
                continue
            lines.append(
                f"| {row['task']} | {row['window']} | {row['family']} | {windows} | "
                + " | ".join(fmt(q[k], spread) for k in SEQUENTIAL_KEYS)
                + f" | {fmt(row['summary']['switch_median_seconds' + suffix], spread)} |")
    lines += ["", "Per fold (test accuracy; decision after 10 s):", ""]
    for row in report["results"]:
        if row["task"] != "mouse":
            continue
        per = ", ".join(
            f"{f['fold'].removeprefix('test ')}: {f['test']['accuracy']:.3f}"
            f" / {_num(f['test']['decision_accuracy'].get('10'))}"
            for f in row["folds"]
        )
        lines.append(f"- mouse w{row['window']} {row['family']}: {per}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the whole table as one JSON object")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--quick", action="store_true", help="2 mouse folds, fewer epochs")
    ap.add_argument("--tasks", default="touchpad,mouse")
    ap.add_argument("--windows", default="200,800", help="mouse window lengths")
    ap.add_argument("--families", default=None,
                    help=f"comma-separated, of {', '.join(FAMILIES)} (default: all)")
    ap.add_argument("--folds", type=int, default=None, help="first N mouse folds (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="JSON-lines file to resume from")
    ap.add_argument("--train-all", action="store_true",
                    help="also time the default model trained on all mouse sessions")
    ap.add_argument("--train-all-out", type=Path, default=None,
                    help="with --train-all: write that model file here")
    args = ap.parse_args(argv)
    _threads()
    notes = []
    if args.families is None:
        families = [f for f in FAMILIES if available(f)]
        notes += [f"{f} skipped: needs deepmouse[{get_family(f).extra}]"
                  for f in FAMILIES if f not in families]
    else:
        families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)} (known: {', '.join(FAMILIES)})")
    for f in families:
        if not available(f):
            ap.error(f"{f} needs deepmouse[{get_family(f).extra}]")
    n_folds = args.folds or (2 if args.quick else None)
    log = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.time()
    results = benchmark(
        args.tasks.split(","), [int(w) for w in args.windows.split(",")], families,
        args.quick, n_folds, args.seed, args.cache, log,
    )
    report = {
        "command": "python benchmarks/accuracy.py " + " ".join(argv or sys.argv[1:]),
        "quick": args.quick,
        "seed": args.seed,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "notes": [
            "test split scored once per fold; dev used only for checkpoint selection",
            "mouse fold k: test = session pair k, dev = pair k+1, train = the other 4 pairs",
            "lstm: 10 epochs at lr 1e-3 (DeepMouse trained 100-300 at 1e-4), to fit the CPU budget",
            "rocket: aeon MiniRocket (10k features) on dx, dy and path + ridge + Platt sigmoid",
            *notes,
        ],
        "results": results,
        "deepmouse_reported": DEEPMOUSE_REPORTED,
        "seconds": round(time.time() - started, 1),
    }
    if args.train_all:
        report["train_all_mouse"] = train_all_mouse(args.seed, args.train_all_out)
    if args.json:
        print(json.dumps(report))
    elif args.markdown:
        print(markdown(report))
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
