"""How much must a user record? Learning curves of stroke-cnn on held-out mouse sessions.

Two questions, on the real DeepMouse mouse recordings, each mouse fold of
``benchmarks/accuracy.py`` (fold k: session pair k is the *user*, pair k+1 dev, the other 4
pairs train):

1. **A model for everybody** (``across``): ``FAMILY`` trained on the first fraction
   ``f`` of every training recording (contiguous time, as a shorter recording would give), dev
   for its kept epoch, scored on every window of the held-out pair. The x axis is minutes of
   movement per hand (active 2-s windows). This is what ``FIRST_MODEL_MINUTES`` in
   ``deepmouse/record.py`` reads off: the movement after which a model has most of its
   accuracy.
2. **Your own model** (``own``): the user records the first ``m`` minutes of each session of
   the held-out pair; the last 40% of each of those recordings is their test. Three models
   are scored on that same test: the model for everybody trained on the 4 other pairs
   (``out of the box``), ``FAMILY`` trained from scratch on the ``m`` minutes
   (``scratch``), and the out-of-the-box model fine-tuned on them (``fine-tuned``, what
   ``deepmouse train DATA --init mouse`` does). Both train for the family's 10 epochs with no
   dev (the user's minutes all train; the last epoch is kept). Scratch uses the family's
   learning rate; fine-tuning's is chosen among :data:`FINE_TUNE_LRS` with the dev pair in the
   user's place (its first minutes fine-tune, its last 40% scores). Nothing is chosen on the
   test part.

Every model is scored once on 2-s windows that do not overlap: per-window accuracy, ROC AUC and
the decision accuracy (mean rule) after 10 s of movement.

    python benchmarks/fine_tune.py --cache /tmp/ft.jsonl --json > fine_tune.json
    python benchmarks/fine_tune.py --cache /tmp/ft.jsonl --markdown
    python benchmarks/fine_tune.py --folds 2 --fractions 0.25,1 --minutes 1 --epochs 3 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402

from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.evaluate import evaluate_windows  # noqa: E402
from deepmouse.recordings import Recording, load_dataset  # noqa: E402
from deepmouse.windows import WindowConfig, WindowSet, active_mask, cut, movement, resample  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "deepmouse"
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
OWN_MINUTES = (0.5, 1.0, 2.0, 3.0)
OWN_TEST_SHARE = 0.4
"""The last 40% of each held-out recording is the user's test (2 minutes of a 5-minute session),
so at most 3 minutes of a 5-minute session can train."""
CPU_ONE_THREAD = {"device": "cpu", "threads": 1}
FAMILY = "stroke-cnn"
"""The family measured: the default of ``deepmouse train`` when this ran (the default ensemble's
network member)."""
FINE_TUNE_LRS = (3e-3, 3e-4, 3e-5)
"""Learning rates fine-tuning chooses among (the family's default first)."""


def mouse_folds(dataset) -> list[tuple[list[int], list[int], str]]:
    """``(user_recordings, dev_recordings, name)``: the folds of ``benchmarks/accuracy.py``,
    named by their pair (``r1+l1``)."""
    return [(test, dev, name.removeprefix("test "))
            for test, dev, name in accuracy.mouse_folds(dataset)]


def windows_of(recordings: list[Recording], config: WindowConfig, stride: int,
               start: float = 0.0, stop: float | None = None, minutes: float | None = None
               ) -> WindowSet:
    """Active windows ``(n, window, 2)`` of a part of each recording's movement: from fraction
    ``start`` to ``stop`` of its steps, or its first ``minutes``."""
    X, y, rec_index = [], [], []
    for index, rec in enumerate(recordings):
        steps = movement(resample(rec, config.rate))
        lo = int(start * len(steps))
        hi = int(minutes * 60 * config.rate) if minutes is not None else \
            int((1.0 if stop is None else stop) * len(steps))
        w = cut(steps[lo:hi], config.window, stride)
        w = w[active_mask(w, config.idle_threshold)]
        X.append(w)
        y.append(np.full(len(w), rec.label, np.int64))
        rec_index.append(np.full(len(w), index, np.int64))
    n = sum(len(v) for v in y)
    return WindowSet(np.concatenate(X), np.concatenate(y), np.concatenate(rec_index),
                     np.zeros(n))


def movement_minutes(part: WindowSet, config: WindowConfig, stride: int) -> float:
    """Minutes of movement per hand in ``part`` (windows every ``stride`` steps)."""
    return float(len(part)) * stride / config.rate / 60 / 2


def score(clf: HandClassifier, test: WindowSet, config: WindowConfig) -> dict:
    metrics = evaluate_windows(clf.predict_proba(test.X)[:, 1], test.y, test.recording,
                               config.seconds)
    return {"accuracy": metrics["accuracy"], "roc_auc": metrics["roc_auc"],
            "decision_10s": metrics["decision_accuracy"].get("10"), "test_windows": len(test)}


def fit(train: WindowSet, dev: WindowSet | None, seed: int, init: HandClassifier | None = None,
        epochs: int | None = None, lr: float | None = None) -> tuple[HandClassifier, float]:
    """``FAMILY`` (``epochs``: fewer than its default, for reduced runs; ``lr``: other
    than its default) fitted on ``train``, from ``init`` if given; and the seconds it took."""
    clf = HandClassifier(FAMILY, **CPU_ONE_THREAD, seed=seed, epochs=epochs, lr=lr)
    start = time.perf_counter()
    clf.fit(train.X, train.y, *(() if dev is None else (dev.X, dev.y)), init=init)
    return clf, time.perf_counter() - start


def run_fold(dataset, fold, fractions, own_minutes, seed, done, cache, log,
             epochs: int | None = None) -> list[dict]:
    """Every run of one fold (cached by key in ``done`` and the ``cache`` file)."""
    user, dev_ids, name = fold
    config = WindowConfig()
    stride = HandClassifier(FAMILY).window_config().stride
    recs = dataset.recordings
    train_recs = [r for i, r in enumerate(recs) if i not in user + dev_ids]
    dev = windows_of([recs[i] for i in dev_ids], config, config.window)
    rows = []

    def cached(key: str, compute) -> dict:
        key = f"{name}|{key}|seed={seed}" + ("" if epochs is None else f"|epochs={epochs}")
        if key not in done:
            done[key] = {"key": key, "fold": name, **compute()}
            if cache is not None:
                with open(cache, "a") as fh:
                    fh.write(json.dumps(done[key]) + "\n")
        log(json.dumps(done[key]))
        rows.append(done[key])
        return done[key]

    base: dict[str, HandClassifier] = {}
    everybody_test = windows_of([recs[i] for i in user], config, config.window)
    for f in fractions:
        def across(f=f) -> dict:
            train = windows_of(train_recs, config, stride, stop=f)
            clf, seconds = fit(train, dev, seed, epochs=epochs)
            if f == 1.0:
                base["model"] = clf
            return {"question": "across", "fraction": f,
                    "minutes_per_hand": movement_minutes(train, config, stride),
                    "train_seconds": round(seconds, 1),
                    **score(clf, everybody_test, config)}
        cached(f"across|{f}", across)

    own_test = windows_of([recs[i] for i in user], config, config.window,
                          start=1 - OWN_TEST_SHARE)

    def out_of_the_box() -> dict:
        return {"question": "own", "method": "out of the box", "minutes": 0.0,
                **score(full_model(), own_test, config)}

    def full_model() -> HandClassifier:
        if "model" not in base:
            base["model"], _ = fit(windows_of(train_recs, config, stride), dev, seed,
                                   epochs=epochs)
        return base["model"]

    cached("own|box", out_of_the_box)
    # The fine-tuning learning rate is chosen with the dev pair standing in for the user (its
    # first minutes fine-tune, its last 40% scores): the user's own test is read once, with the
    # chosen rate.
    proxy = [recs[i] for i in dev_ids]
    proxy_test = windows_of(proxy, config, config.window, start=1 - OWN_TEST_SHARE)
    for m in own_minutes:
        mine = windows_of([recs[i] for i in user], config, stride, minutes=m)
        proxy_mine = windows_of(proxy, config, stride, minutes=m)

        def choose(m=m, proxy_mine=proxy_mine) -> dict:
            accuracy = {}
            for lr in FINE_TUNE_LRS:
                clf, _ = fit(proxy_mine, None, seed, init=full_model(), epochs=epochs, lr=lr)
                accuracy[str(lr)] = score(clf, proxy_test, config)["accuracy"]
            best = max(FINE_TUNE_LRS, key=lambda lr: accuracy[str(lr)])
            return {"question": "choice", "minutes": m, "dev_accuracy": accuracy, "lr": best}

        chosen = cached(f"choice|{m}", choose)["lr"]
        for method in ("scratch", "fine-tuned"):
            def own(method=method, mine=mine, m=m, chosen=chosen) -> dict:
                init, lr = (full_model(), chosen) if method == "fine-tuned" else (None, None)
                clf, seconds = fit(mine, None, seed, init=init, epochs=epochs, lr=lr)
                return {"question": "own", "method": method, "minutes": m, "lr": lr,
                        "minutes_per_hand": movement_minutes(mine, config, stride),
                        "train_seconds": round(seconds, 1), **score(clf, own_test, config)}
            cached(f"own|{method}|{m}" + (f"|lr={chosen}" if method == "fine-tuned" else ""), own)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± std over folds per (question, method, size)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["question"] == "choice":
            continue
        size = row.get("fraction", row.get("minutes"))
        groups.setdefault((row["question"], row.get("method", "everybody"), size), []).append(row)
    out = []
    for (question, method, size), group in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2])):
        entry = {"question": question, "method": method, "size": size, "folds": len(group)}
        for metric in ("accuracy", "roc_auc", "decision_10s", "minutes_per_hand"):
            values = [r[metric] for r in group if r.get(metric) is not None]
            if values:
                entry[metric] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        out.append(entry)
    return out


def chosen_rates(rows: list[dict]) -> dict[str, int]:
    """How often each fine-tuning learning rate was chosen (over folds and minutes)."""
    counts: dict[str, int] = {}
    for row in rows:
        if row["question"] == "choice":
            counts[str(row["lr"])] = counts.get(str(row["lr"]), 0) + 1
    return counts


def markdown(summary: list[dict]) -> str:
    def cell(entry: dict, metric: str) -> str:
        stat = entry.get(metric)
        return "–" if stat is None else f"{stat['mean']:.3f} ± {stat['std']:.3f}"

    lines = ["| question | model | size | movement per hand (min) | folds | accuracy | ROC AUC "
             "| decision 10 s |", "|---|---|---|---|---|---|---|---|"]
    for e in summary:
        size = f"first {e['size']:g} of each training recording" if e["question"] == "across" \
            else f"{e['size']:g} min recorded"
        minutes = e.get("minutes_per_hand")
        lines.append(f"| {e['question']} | {e['method']} | {size} | "
                     f"{'–' if minutes is None else format(minutes['mean'], '.1f')} | "
                     f"{e['folds']} | {cell(e, 'accuracy')} | {cell(e, 'roc_auc')} | "
                     f"{cell(e, 'decision_10s')} |")
    return "\n".join(lines)


def plot(summary: list[dict], path: Path) -> Path:
    """Both curves side by side: accuracy against minutes of movement per hand (mean ± std over
    folds)."""
    import matplotlib.pyplot as plt

    from deepmouse.plots import save_figure

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    panels = (
        (left, "across", "a model for everybody: tested on unseen sessions",
         "movement per hand in training (min)"),
        (right, "own", "your own session: tested on its last 40%",
         "movement per hand recorded by the user (min)"),
    )
    for ax, question, title, xlabel in panels:
        entries = [e for e in summary if e["question"] == question]
        for method in dict.fromkeys(e["method"] for e in entries):
            points = [e for e in entries if e["method"] == method]
            if method == "out of the box":
                acc = points[0]["accuracy"]
                ax.axhline(acc["mean"], color="grey", linestyle="--",
                           label=f"out of the box ({acc['mean']:.2f})")
                continue
            x = [e["minutes_per_hand"]["mean"] for e in points]
            mean = np.array([e["accuracy"]["mean"] for e in points])
            std = np.array([e["accuracy"]["std"] for e in points])
            line, = ax.plot(x, mean, marker="o", label=method)
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    left.set_ylabel("accuracy of one 2-s window")
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=None, help="first N mouse folds only")
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    parser.add_argument("--minutes", default=",".join(map(str, OWN_MINUTES)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None,
                        help="fewer epochs than the family's default (reduced runs)")
    parser.add_argument("--cache", type=Path, default=None, help="JSON lines of finished runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--markdown", action="store_true", help="print the RESULTS.md table")
    parser.add_argument("--plot", type=Path, default=None, help="draw both curves as a PNG")
    parser.add_argument("--data", type=Path, default=DATA / "mouse")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    fractions = [float(v) for v in args.fractions.split(",")]
    own_minutes = [float(v) for v in args.minutes.split(",")]
    done: dict[str, dict] = {}
    if args.cache is not None and args.cache.is_file():
        for line in args.cache.read_text().splitlines():
            row = json.loads(line)
            done[row["key"]] = row
    dataset = load_dataset(args.data)
    log = (lambda line: print(line, file=sys.stderr)) if not args.markdown else (lambda _: None)
    rows = []
    for fold in mouse_folds(dataset)[: args.folds]:
        rows += run_fold(dataset, fold, fractions, own_minutes, args.seed, done, args.cache, log,
                         args.epochs)
    summary = summarise(rows)
    if args.plot is not None:
        plot(summary, args.plot)
    if args.markdown:
        print(markdown(summary))
    else:
        print(json.dumps({"command": " ".join(sys.argv), "rows": rows, "summary": summary,
                          "fine_tune_lr_chosen": chosen_rates(rows)},
                         indent=None if not args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
