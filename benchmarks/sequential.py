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

``--curves PNG`` draws, for ``hier-dev`` (``mean`` and ``sum`` dashed and dotted), the accuracy
of the decisions made by each second of movement and the fraction of trials decided by then:
the mean over the mouse folds with a ±1 std band, the touchpad in its own panel; the markdown
adds them at :data:`CURVE_SECONDS`.

``--switch-study`` chooses the prior switch rate of ``hier-dev`` per mouse fold among
:data:`SWITCH_RATES` on the *other* folds (among rates whose decisions there were right >= 95%
of the time, the one whose spliced changes of hand were followed soonest, see
:func:`switch_score`), and reads the chosen rate's figures on the fold itself, next to the
default's and every rate's.

    python benchmarks/sequential.py --families stroke-cnn,rocket --cache /tmp/seq --json
    python benchmarks/sequential.py --cache /tmp/seq --markdown      # the table for RESULTS.md
    python benchmarks/sequential.py --families stroke-cnn,rocket,ensemble --cache /tmp/seq \
        --switch-study --curves benchmarks/sequential_curves.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402

from deepmouse.classifier import HandClassifier  # noqa: E402
from deepmouse.decision import (  # noqa: E402
    DEFAULT_SWITCH_RATE,
    TAU2_FLOOR,
    DecisionModel,
    Posterior,
    fit_decision_model,
)
from deepmouse.evaluate import (  # noqa: E402
    ece_of,
    expected_calibration_error,
    sequential_metrics,
    switch_delays,
    switch_metrics,
)
from deepmouse.families import get_family  # noqa: E402
from deepmouse.recordings import load_dataset  # noqa: E402
from deepmouse.windows import make_splits  # noqa: E402

WINDOW = 200
RULES = ("mean", "sum", "hier-dev", "hier-nested", "hier-folds")
FLOORS = (0.05, 0.1, 0.25, 0.5)
"""Candidate floors of the session-offset variance (``tau2 >= floor * mu ** 2``)."""
CURVE_SECONDS = (5, 10, 20, 30, 60)
"""Seconds of movement at which the curves are tabulated."""
SWITCH_RATES = (1 / 300, 1 / 120, 1 / 60, 1 / 30, 1 / 15)
"""Candidate prior rates of a new segment, per second of movement (``--switch-study``)."""


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
              cache: Path | None, log=None, keep: dict | None = None) -> list[dict]:
    """Every rule on every fold of every family (``keep``, when given, receives each family's
    folds' log-odds, ``{family: {(task, fold): arrays}}``)."""
    rows = []
    plan = fold_plan(tasks, n_folds)
    for family in families:
        folds = {}
        if keep is not None:
            keep[family] = folds
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
            dev_model = fit_dev(family, arrays)
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


def fit_dev(family: str, arrays: dict) -> DecisionModel | None:
    """The ``hier-dev`` constants: fitted on the fold's dev windows with the family's floor of
    the session-offset spread, what ``deepmouse train`` stores (``None`` without a signal)."""
    own = get_family(family).session_spread
    return fit_or_none(arrays["dev_z"], arrays["dev_y"], arrays["dev_recording"],
                       tau2_floor=TAU2_FLOOR if own is None else own)


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


def curve_stats(rows: list[dict], family: str, task: str, rule: str) -> dict | None:
    """The sequential curve of one (family, task, rule) over its folds: at every whole second
    of movement (1..60) the mean and std over folds of the fraction of trials decided and of
    the accuracy of those decisions (a fold without a decision yet leaves the accuracy out);
    ``None`` without rows."""
    curves = [r["sequential"]["curve"] for r in rows
              if (r["family"], r["task"], r["rule"]) == (family, task, rule)]
    if not curves:
        return None
    seconds = np.array([c["seconds"] for c in curves[0]], dtype=float)
    decided = np.array([[c["decided"] for c in curve] for curve in curves], dtype=float)
    accuracy = np.array([[np.nan if c["accuracy"] is None else c["accuracy"] for c in curve]
                         for curve in curves], dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # seconds before any decision
        return {"seconds": seconds, "folds": len(curves),
                "decided": decided.mean(0), "decided_std": decided.std(0),
                "accuracy": np.nanmean(accuracy, 0), "accuracy_std": np.nanstd(accuracy, 0)}


def plot_sequential_curves(rows: list[dict], path: Path,
                           contrast: tuple[str, ...] = ("mean", "sum")) -> Path:
    """Accuracy when decided (top) and fraction decided (bottom) against seconds of movement,
    for ``hier-dev``: the mouse folds' mean with a ±1 std band (left), the touchpad (right); a
    line per family, the ``contrast`` rules dashed and dotted."""
    from deepmouse.plots import plt, save_figure

    families = sorted({r["family"] for r in rows})
    tasks = [t for t in ("mouse", "touchpad") if any(r["task"] == t for r in rows)]
    styles = dict(zip(contrast, ("--", ":"), strict=False))
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.7 * len(tasks), 6.6), squeeze=False,
                             sharex=True, sharey="row")
    for col, task in enumerate(tasks):
        for i, family in enumerate(families):
            colour = f"C{i}"
            for rule in ("hier-dev", *contrast):
                stats = curve_stats(rows, family, task, rule)
                if stats is None:
                    continue
                main = rule == "hier-dev"
                for row, key in enumerate(("accuracy", "decided")):
                    ax = axes[row, col]
                    x, mean, std = stats["seconds"], stats[key], stats[f"{key}_std"]
                    label = (f"{family} ({stats['folds']} folds)" if task == "mouse"
                             else family) if main else f"{family}, {rule}"
                    ax.plot(x, mean, styles.get(rule, "-"), color=colour,
                            lw=1.9 if main else 1.0, alpha=1.0 if main else 0.7, label=label)
                    if main and stats["folds"] > 1:
                        ax.fill_between(x, mean - std, np.minimum(mean + std, 1.0),
                                        color=colour, alpha=0.15, lw=0)
        axes[0, col].set_title(f"{task}: " + ("mean ± 1 std over the session folds"
                                              if task == "mouse" else "chrono test block"),
                               fontsize=10)
        axes[0, col].axhline(0.95, color="grey", lw=0.8, ls="-.")
        axes[1, col].set_xlabel("seconds of movement")
    axes[0, 0].set_ylabel("right when decided (by then)")
    axes[1, 0].set_ylabel("fraction of trials decided")
    axes[0, 0].set_ylim(0.5, 1.01)
    axes[1, 0].set_ylim(0, 1.01)
    for ax in axes.flat:
        ax.set_xlim(0, 60)
        ax.grid(alpha=0.3)
    axes[1, -1].legend(fontsize=7, loc="lower right", ncol=1)
    fig.suptitle("The sequential decision (hier-dev solid; "
                 + ", ".join(f"{r} {styles[r]}" for r in contrast) + "), threshold 0.95",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def curve_table(rows: list[dict], rule: str = "hier-dev") -> str:
    """The curves at :data:`CURVE_SECONDS`: fraction decided and right when decided per family
    and task (mouse: mean ± std over folds)."""
    head = " | ".join(f"{t} s" for t in CURVE_SECONDS)
    lines = [f"| family | task | {head} |", "|---|---|" + "---|" * len(CURVE_SECONDS)]
    for family in sorted({r["family"] for r in rows}):
        for task in ("mouse", "touchpad"):
            stats = curve_stats(rows, family, task, rule)
            if stats is None:
                continue
            cells = []
            for t in CURVE_SECONDS:
                i = int(np.flatnonzero(stats["seconds"] == t)[0])
                d, a = stats["decided"][i], stats["accuracy"][i]
                pm = stats["folds"] > 1
                dec = f"{d:.2f}" + (f" ± {stats['decided_std'][i]:.2f}" if pm else "")
                acc = ("–" if np.isnan(a) else f"{a:.3f}"
                       + (f" ± {stats['accuracy_std'][i]:.3f}" if pm else ""))
                cells.append(f"{dec} / {acc}")
            lines.append(f"| {family} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rate_figures(arrays: dict, model: DecisionModel, rate: float) -> dict:
    """The test figures of the ``hier-dev`` constants with another prior switch rate."""
    model = model.with_options(switch_rate=rate)
    z, y, rec = arrays["test_z"], arrays["test_y"], arrays["test_recording"]
    ws = float(arrays["window_seconds"])
    return {"sequential": sequential_metrics(z, y, rec, ws, model),
            "delays": switch_delays(z, y, rec, ws, model)}


def switch_score(figures: list[dict]) -> tuple[bool, float, float]:
    """What the choice of a switch rate maximises, pooled over folds: first whether decisions
    were right >= 95% of the time, then (if so) minus the median delay of every switch trial,
    an unfollowed one counted as never (so following more and following faster both count),
    then the fraction decided; below 95%, the accuracy."""
    right, fraction = pooled_score([f["sequential"] for f in figures])
    if not right:
        return False, fraction, 0.0
    delays = [math.inf if d is None else d for f in figures for d in f["delays"]]
    median = float(np.median(delays)) if delays else math.inf
    return True, -median, fraction


def switch_study(folds: dict, family: str, rates=SWITCH_RATES) -> dict:
    """For each mouse fold, the switch rate chosen on the *other* folds
    (:func:`switch_score`, ties to the lower rate) and the fold's figures with it; and with
    :data:`DEFAULT_SWITCH_RATE`, and with every rate, for comparison. The touchpad gets the
    rate chosen on all the mouse folds."""
    mouse = {f: a for (t, f), a in folds.items() if t == "mouse"}
    figures = {}
    for fold, arrays in mouse.items():
        model = fit_dev(family, arrays)
        if model is not None:
            figures[fold] = {rate: rate_figures(arrays, model, rate)
                             for rate in {*rates, DEFAULT_SWITCH_RATE}}

    def choose(on: list[str]) -> float:
        scored = [(*switch_score([figures[f][rate] for f in on]), -rate, rate) for rate in rates]
        return max(scored)[-1]

    out = {"family": family, "folds": []}
    for fold in figures:
        chosen = choose([f for f in figures if f != fold])
        out["folds"].append({"fold": fold, "rate": chosen, "chosen": figures[fold][chosen],
                             "default": figures[fold][DEFAULT_SWITCH_RATE],
                             "every": figures[fold]})
    touch = next((a for (t, _), a in folds.items() if t == "touchpad"), None)
    if touch is not None and figures:
        rate = choose(list(figures))
        model = fit_dev(family, touch)
        if model is not None:
            out["touchpad"] = {"rate": rate, "chosen": rate_figures(touch, model, rate),
                               "default": rate_figures(touch, model, DEFAULT_SWITCH_RATE)}
    return out


def study_summary(figures: list[dict]) -> dict:
    """Per-fold means ± std of a list of one rate's figures, and the switch trials pooled."""
    seq = [f["sequential"] for f in figures]
    delays = [d for f in figures for d in f["delays"]]
    followed = [d for d in delays if d is not None]

    def ms(values):
        v = np.array([x for x in values if x is not None], dtype=float)
        if not len(v):
            return None
        return (float(v.mean()), float(v.std())) if len(v) > 1 else float(v[0])

    fold_medians = []
    for f in figures:
        done = [d for d in f["delays"] if d is not None]
        fold_medians.append(float(np.median(done)) if done else None)
    return {"decided": ms([s["decided"] for s in seq]),
            "accuracy": ms([s["accuracy"] for s in seq]),
            "median_seconds": ms([s["median_seconds"] for s in seq]),
            "switch_median": ms(fold_medians),
            "switch_median_pooled": float(np.median(followed)) if followed else None,
            "switch_followed": len(followed) / len(delays) if delays else None,
            "switch_within_10": (sum(d <= 10 for d in followed) / len(delays)) if delays else None,
            "switch_trials": len(delays)}


def study_markdown(studies: list[dict]) -> str:
    def fmt(v, digits=3):
        if v is None:
            return "–"
        if isinstance(v, tuple):
            return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"
        return f"{v:.{digits}f}"

    def rate_name(rate):
        return f"1/{round(1 / rate)}" if rate else "0"

    lines = ["| family | task | switch rate (per s) | switch median s (per fold / pooled) | "
             "switch followed | followed ≤ 10 s | decided | right when decided | median s |",
             "|---|---|---|---|---|---|---|---|---|"]

    def line(family, task, label, figures):
        s = study_summary(figures)
        lines.append(f"| {family} | {task} | {label} | {fmt(s['switch_median'], 1)} / "
                     f"{fmt(s['switch_median_pooled'], 1)} | {fmt(s['switch_followed'], 2)} "
                     f"({s['switch_trials']}) | {fmt(s['switch_within_10'], 2)} | "
                     f"{fmt(s['decided'])} | {fmt(s['accuracy'])} | "
                     f"{fmt(s['median_seconds'], 1)} |")

    for study in studies:
        family, folds = study["family"], study["folds"]
        chosen = sorted({rate_name(f["rate"]) for f in folds})
        line(family, "mouse", f"default {rate_name(DEFAULT_SWITCH_RATE)}",
             [f["default"] for f in folds])
        line(family, "mouse", f"**nested** ({', '.join(chosen)})", [f["chosen"] for f in folds])
        for rate in SWITCH_RATES:
            line(family, "mouse", f"every fold {rate_name(rate)}",
                 [f["every"][rate] for f in folds])
        if "touchpad" in study:
            t = study["touchpad"]
            line(family, "touchpad", f"default {rate_name(DEFAULT_SWITCH_RATE)}", [t["default"]])
            line(family, "touchpad", f"chosen on the mouse ({rate_name(t['rate'])})",
                 [t["chosen"]])
    lines += ["", "Rate chosen per mouse fold on the other folds:", ""]
    for study in studies:
        picks = ", ".join(f"{f['fold'].replace('test ', '')} {rate_name(f['rate'])}"
                          for f in study["folds"])
        lines.append(f"- {study['family']}: {picks}")
    return "\n".join(lines)


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
    ap.add_argument("--curves", type=Path, default=None, metavar="PNG",
                    help="draw the decision's curves against seconds of movement to PNG")
    ap.add_argument("--switch-study", action="store_true",
                    help="also choose the prior switch rate per mouse fold on the other folds "
                         f"(of {len(SWITCH_RATES)} rates) and compare it with the default")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = set(families) - set(accuracy.FAMILIES)
    if unknown:
        ap.error(f"unknown families {sorted(unknown)}")
    import torch

    torch.set_num_threads(1)
    log = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.time()
    folds: dict = {}
    rows = benchmark(families, args.tasks.split(","), args.folds, args.seed, args.cache, log,
                     keep=folds)
    studies = ([switch_study(folds[f], f) for f in families] if args.switch_study else [])
    if args.curves:
        plot_sequential_curves(rows, args.curves)
    report = {"command": "python benchmarks/sequential.py " + " ".join(argv or sys.argv[1:]),
              "rows": rows, "summary": summary(rows), "family_choice": choose_family(rows),
              "seconds": round(time.time() - started)}
    if studies:
        report["switch_study"] = [{"family": s["family"],
                                   "mouse_nested": study_summary([f["chosen"] for f in s["folds"]]),
                                   "mouse_default": study_summary([f["default"]
                                                                   for f in s["folds"]]),
                                   "rates": {f["fold"]: f["rate"] for f in s["folds"]}}
                                  for s in studies]
    if args.json:
        print(json.dumps(report))
    else:
        print(markdown(rows))
        print("\nThe curves at " + ", ".join(map(str, CURVE_SECONDS)) + " s of movement, "
              "hier-dev (fraction decided / right when decided):\n")
        print(curve_table(rows))
        if studies:
            print("\nThe prior switch rate, chosen per mouse fold on the other folds:\n")
            print(study_markdown(studies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
