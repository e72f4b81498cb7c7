"""The sequential decision on the real recordings, on sessions nothing was fit or chosen on.

Folds as in ``benchmarks/accuracy.py``: the touchpad's chrono split (last 15% of each recording
tests, the 15% before it is dev), and the mouse rotated over its 6 session pairs (pair k tests,
pair k + 1 is dev, the other 4 train). Each family is trained once per fold (window 200); its
left-hand log-odds on the dev and test windows are kept (``--cache DIR``, one ``.npz`` per fold)
so that decision rules are compared on the same numbers without training again.

Decision rules, each scored on the test windows only (trials every 5 s of movement, up to 60 s;
a change of hand spliced from two test recordings):

- ``mean``: DeepMouse's mean log-odds of the windows so far (P never grows with agreement);
- ``sum``: the sum of the log-odds, windows taken as independent evidence;
- ``hier-dev``: :mod:`deepmouse.decision` with its constants fitted on the fold's dev windows,
  what ``deepmouse train`` stores in the model file (one dev session pair cannot measure the
  spread of session offsets, so ``tau2`` is the family's floor times ``mu ** 2``; the floors
  were set from the ``hier-nested`` choices below);
- ``hier-nested``: the same, with the floor chosen among ``FLOORS`` on the *other* folds (the
  most decisions among floors whose decisions there were right >= 95% of the time), so the
  fold's figure is read from windows the choice never saw;
- ``hier-folds`` (mouse): the same model with constants fitted on the test windows of the
  *other* folds (held-out sessions scored by their own fold's model), so 10 sessions instead of
  2 estimate the session-offset spread; fold k's own windows are never used.

    python benchmarks/sequential.py --families stroke-cnn,rocket --cache /tmp/seq --json
    python benchmarks/sequential.py --cache /tmp/seq --markdown      # the table for RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402

from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.decision import (  # noqa: E402
    TAU2_FLOOR,
    DecisionModel,
    Posterior,
    fit_decision_model,
)
from deepmouse.evaluate import (  # noqa: E402
    ece_of,
    expected_calibration_error,
    sequential_metrics,
    switch_metrics,
)
from deepmouse.families import get_family  # noqa: E402
from deepmouse.recordings import load_dataset  # noqa: E402
from deepmouse.windows import make_splits  # noqa: E402

WINDOW = 200
RULES = ("mean", "sum", "hier-dev", "hier-nested", "hier-folds")
FLOORS = (0.05, 0.1, 0.25, 0.5)
"""Candidate floors of the session-offset variance (``tau2 >= floor * mu ** 2``)."""


class SimpleRule:
    """A rule without a model: P(left) = sigmoid(mean or sum of the log-odds so far)."""

    def __init__(self, how: str, window_seconds: float, threshold: float) -> None:
        self.how, self.window_seconds, self.threshold = how, window_seconds, threshold
        self.total, self.n, self.seconds = 0.0, 0, 0.0

    def update(self, z: float, weight: float = 1.0) -> Posterior:
        self.total += z
        self.n += 1
        self.seconds += weight * self.window_seconds
        score = self.total / self.n if self.how == "mean" else self.total
        p = 1.0 / (1.0 + math.exp(-max(min(score, 60.0), -60.0)))
        hand = "left" if p >= self.threshold else "right" if 1 - p >= self.threshold else None
        return Posterior(p, hand, self.seconds, self.seconds if hand else None)


def fold_plan(tasks: list[str], n_folds: int | None):
    """``(task, fold name, make_splits(config))`` for every fold."""
    plan = []
    if "touchpad" in tasks:
        ds = load_dataset(accuracy.DATA / "touchpad")
        plan.append(("touchpad", "chrono", lambda cfg, ds=ds: make_splits(ds, cfg, "chrono")))
    if "mouse" in tasks:
        ds = load_dataset(accuracy.DATA / "mouse")
        for test, dev, name in accuracy.mouse_folds(ds)[: n_folds or None]:
            plan.append(("mouse", name, lambda cfg, ds=ds, test=test, dev=dev: make_splits(
                ds, cfg, "session", test_recordings=test, dev_recordings=dev)))
    return plan


def fold_log_odds(family: str, task: str, fold: str, split_fn, cache: Path | None,
                  seed: int) -> dict:
    """Train ``family`` on the fold (or read the cache): dev and test log-odds, labels,
    recordings."""
    path = None
    if cache is not None:
        name = fold.replace(" ", "_").replace("+", "-")
        path = cache / f"{task}-{family}-{name}{'' if seed == 0 else f'-seed{seed}'}.npz"
        if path.is_file():
            return dict(np.load(path))
    overrides, stride_frac = accuracy.FAMILIES[family]
    stride = max(1, int(WINDOW * stride_frac)) if stride_frac else None
    splits = split_fn(HandClassifier(family).window_config(window=WINDOW, stride=stride))
    taken = HandClassifier(family).get_params()
    params = overrides | {k: v for k, v in accuracy.CPU_ONE_THREAD.items() if k in taken}
    clf = HandClassifier(family, seed=seed, **params)
    start = time.perf_counter()
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    arrays = {"train_seconds": np.array(time.perf_counter() - start),
              "window_seconds": np.array(splits.config.seconds)}
    for name in ("dev", "test"):
        part = getattr(splits, name)
        arrays |= {f"{name}_z": clf.decision_function(part.X), f"{name}_y": part.y,
                   f"{name}_recording": part.recording}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
    return arrays


def score_fold(arrays: dict, rule: str, constants: DecisionModel | None) -> dict | None:
    """The test figures of one rule on one fold (``None`` where the rule cannot be fitted)."""
    z, y, rec = arrays["test_z"], arrays["test_y"], arrays["test_recording"]
    ws = float(arrays["window_seconds"])
    if rule in ("mean", "sum"):
        model = DecisionModel(1.0, 1.0, 1.0)  # unused by these rules: only the threshold counts
        stream = lambda: SimpleRule(rule, ws, model.threshold)  # noqa: E731
    else:
        if constants is None:
            return None
        model, stream = constants, None
    out = {"sequential": sequential_metrics(z, y, rec, ws, model, stream),
           "switch": switch_metrics(z, y, rec, ws, model, stream),
           "window_accuracy": float(((z > 0) == (y == 1)).mean()),
           "window_ece_raw": expected_calibration_error(1 / (1 + np.exp(-z)), y)}
    if rule.startswith("hier"):
        out["window_ece_calibrated"] = expected_calibration_error(model.window_probability(z),
                                                                  y)
        out["constants"] = model.to_dict()
    return out


def benchmark(families: list[str], tasks: list[str], n_folds: int | None, seed: int,
              cache: Path | None, log=None) -> list[dict]:
    rows = []
    plan = fold_plan(tasks, n_folds)
    for family in families:
        folds = {}
        for task, fold, split_fn in plan:
            arrays = fold_log_odds(family, task, fold, split_fn, cache, seed)
            folds[(task, fold)] = arrays
            if log:
                log(f"{family:10s} {task:8s} {fold:18s} trained/read "
                    f"({float(arrays['train_seconds']):.0f} s)")
        for (task, fold), arrays in folds.items():
            # the floor is chosen on the task's other folds (the touchpad, a single fold: on
            # the mouse folds)
            others = {k: a for k, a in folds.items() if k[0] == task and k != (task, fold)}
            others = others or {k: a for k, a in folds.items() if k[0] != task}
            floor = choose_floor(others) if others else None
            nested_model = None
            if floor is not None:
                nested_model = fit_or_none(arrays["dev_z"], arrays["dev_y"],
                                           arrays["dev_recording"], tau2_floor=floor)
                if log:
                    log(f"{family:10s} {task:8s} {fold:18s} floor chosen on the other folds: "
                        f"{floor}")
            dev_model = None
            own = get_family(family).session_spread
            try:
                dev_model = fit_decision_model(arrays["dev_z"], arrays["dev_y"],
                                               arrays["dev_recording"],
                                               tau2_floor=TAU2_FLOOR if own is None else own)
            except ValueError:
                pass
            others = [a for (t, f), a in folds.items() if t == task and f != fold]
            folds_model = None
            if others:
                z = np.concatenate([a["test_z"] for a in others])
                yy = np.concatenate([a["test_y"] for a in others])
                sess = np.concatenate([a["test_recording"] + 1000 * i
                                       for i, a in enumerate(others)])
                folds_model = fit_or_none(z, yy, sess)
            for rule, constants in (("mean", None), ("sum", None), ("hier-dev", dev_model),
                                    ("hier-nested", nested_model),
                                    ("hier-folds", folds_model)):
                scored = score_fold(arrays, rule, constants)
                if scored is not None and rule == "hier-nested":
                    scored["floor"] = floor
                if scored is not None:
                    rows.append({"family": family, "task": task, "fold": fold, "rule": rule,
                                 **scored})
    return rows


def fit_or_none(z, y, session, **options) -> DecisionModel | None:
    """:func:`fit_decision_model`, or ``None`` where the log-odds carry no signal."""
    try:
        return fit_decision_model(z, y, session, **options)
    except ValueError:
        return None


def choose_floor(folds: dict) -> float:
    """The floor giving the most decisions, among those right >= 95% of the time, pooled over
    ``folds`` (each scored with constants fitted on its own dev windows)."""
    scores = []
    for floor in FLOORS:
        sequentials = []
        for arrays in folds.values():
            model = fit_or_none(arrays["dev_z"], arrays["dev_y"], arrays["dev_recording"],
                                tau2_floor=floor)
            if model is not None:
                sequentials.append(sequential_metrics(
                    arrays["test_z"], arrays["test_y"], arrays["test_recording"],
                    float(arrays["window_seconds"]), model))
        scores.append((*pooled_score(sequentials), floor))
    return max(scores)[2]


def pooled_score(sequentials: list[dict]) -> tuple[bool, float]:
    """What a choice maximises, pooled over trials of several folds: first whether decisions
    were right >= 95% of the time, then the fraction decided (or, below 95%, the accuracy)."""
    trials = sum(s["trials"] for s in sequentials)
    decided = sum(s["trials"] * s["decided"] for s in sequentials)
    right = sum(s["trials"] * s["decided"] * (s["accuracy"] or 0.0) for s in sequentials)
    accuracy = right / decided if decided else 0.0
    return accuracy >= 0.95, decided / trials if accuracy >= 0.95 else accuracy


def pooled_ece(reliabilities: list[list[dict]]) -> float | None:
    """ECE of the posterior pooled over folds: bins of P(left) merged across the folds' sessions
    (a fold's own ECE rests on two sessions and mostly measures their idiosyncrasies)."""
    bins: dict[int, list[float]] = {}
    for points in reliabilities:
        for p in points:
            b = bins.setdefault(min(int(p["p_mean"] * 10), 9), [0.0, 0.0, 0.0])
            b[0] += p["n"]
            b[1] += p["n"] * p["p_mean"]
            b[2] += p["n"] * p["observed"]
    merged = [{"n": n, "p_mean": sp / n, "observed": so / n} for n, sp, so in bins.values() if n]
    return ece_of(merged) if merged else None


def summary(rows: list[dict]) -> list[dict]:
    """Mean, std, min, max over folds per (family, task, rule)."""
    keys = sorted({(r["family"], r["task"], r["rule"]) for r in rows},
                  key=lambda k: (k[0], k[1], RULES.index(k[2])))
    out = []
    for family, task, rule in keys:
        group = [r for r in rows if (r["family"], r["task"], r["rule"]) == (family, task, rule)]

        def stat(values):
            v = np.array([x for x in values if x is not None], dtype=float)
            return None if not len(v) else {"mean": float(v.mean()), "std": float(v.std()),
                                             "min": float(v.min()), "max": float(v.max()),
                                             "n": len(v)}

        seq = [r["sequential"] for r in group]
        sw = [r["switch"] for r in group if r["switch"]]
        out.append({
            "family": family, "task": task, "rule": rule, "folds": len(group),
            "decided": stat([s["decided"] for s in seq]),
            "accuracy": stat([s["accuracy"] for s in seq]),
            "median_seconds": stat([s["median_seconds"] for s in seq]),
            "ece": stat([s["ece"] for s in seq]),
            "ece_pooled": pooled_ece([s["reliability"] for s in seq]),
            "switch_followed": stat([s["followed"] for s in sw]),
            "switch_median_seconds": stat([s["median_seconds"] for s in sw]),
            "window_ece_raw": stat([r["window_ece_raw"] for r in group]),
            "window_ece_calibrated": stat([r.get("window_ece_calibrated") for r in group]),
        })
    return out


def choose_family(rows: list[dict], rule: str = "hier-nested") -> list[dict]:
    """The family for each mouse fold, chosen on the *other* folds: the most decisions among
    families whose decisions there were right >= 95% of the time (else the most accurate); and
    the chosen family's figures on the fold itself, which the choice never saw."""
    mouse = [r for r in rows if r["task"] == "mouse" and r["rule"] == rule]
    families = sorted({r["family"] for r in mouse})
    out = []
    for fold in sorted({r["fold"] for r in mouse}):
        scores = []
        for family in families:
            others = [r["sequential"] for r in mouse if r["family"] == family and
                      r["fold"] != fold]
            scores.append((*pooled_score(others), family))
        chosen = max(scores)[2]
        mine = next(r for r in mouse if r["family"] == chosen and r["fold"] == fold)
        out.append({"fold": fold, "family": chosen, "sequential": mine["sequential"],
                    "switch": mine["switch"]})
    return out


def markdown(rows: list[dict]) -> str:
    def fmt(s, digits=3):
        if s is None:
            return "–"
        return (f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}" if s["n"] > 1
                else f"{s['mean']:.{digits}f}")

    lines = ["| family | task | rule | folds | decided | right when decided | median s | "
             "posterior ECE per fold / pooled | switch followed | switch median s | "
             "window ECE raw → cal. |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary(rows):
        ece = fmt(s["window_ece_raw"], 2)
        if s["window_ece_calibrated"]:
            ece += f" → {fmt(s['window_ece_calibrated'], 2)}"
        lines.append(
            f"| {s['family']} | {s['task']} | {s['rule']} | {s['folds']} | {fmt(s['decided'])} "
            f"| {fmt(s['accuracy'])} | {fmt(s['median_seconds'], 1)} | {fmt(s['ece'])} / "
            f"{'–' if s['ece_pooled'] is None else format(s['ece_pooled'], '.3f')} | "
            f"{fmt(s['switch_followed'])} | {fmt(s['switch_median_seconds'], 1)} | {ece} |")
    choices = choose_family(rows)
    if len({r["family"] for r in rows}) > 1 and choices:
        lines += ["", "Family chosen per mouse fold on the other folds (hier-nested), and its "
                  "figures on the fold (right when decided / median s / decided):", ""]
        for c in choices:
            q = c["sequential"]
            acc = "–" if q["accuracy"] is None else f"{q['accuracy']:.3f}"
            med = "–" if q["median_seconds"] is None else f"{q['median_seconds']:.0f}"
            lines.append(f"- {c['fold']}: {c['family']} — {acc} / {med} / {q['decided']:.2f}")
    lines += ["", "Per fold (right when decided / median s / decided):", ""]
    for r in rows:
        if r["rule"].startswith("hier"):
            q = r["sequential"]
            acc = "–" if q["accuracy"] is None else f"{q['accuracy']:.3f}"
            med = "–" if q["median_seconds"] is None else f"{q['median_seconds']:.0f}"
            lines.append(f"- {r['family']} {r['task']} {r['fold']} {r['rule']}: {acc} / {med} "
                         f"/ {q['decided']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", default="stroke-cnn",
                    help=f"comma-separated, of {', '.join(accuracy.FAMILIES)}")
    ap.add_argument("--tasks", default="touchpad,mouse")
    ap.add_argument("--folds", type=int, default=None, help="first N mouse folds (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="folder for the folds' log-odds")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(accuracy.FAMILIES)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)}")
    import torch

    torch.set_num_threads(1)
    log = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.time()
    rows = benchmark(families, args.tasks.split(","), args.folds, args.seed, args.cache, log)
    report = {"command": "python benchmarks/sequential.py " + " ".join(argv or sys.argv[1:]),
              "rows": rows, "summary": summary(rows), "family_choice": choose_family(rows),
              "seconds": round(time.time() - started)}
    print(json.dumps(report) if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
