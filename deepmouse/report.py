"""One self-contained HTML page from run, sweep and tune folders (``deepmouse report``).

A run folder written by :func:`deepmouse.pipeline.train_run` holds its figures' data
(``history.csv``, ``metrics.json``, ``config.json``, ``data.json``); the page redraws its figures
from that data: the example window, learning curves, confusion matrix, ROC curve, decision over
seconds of movement and reliability diagram, each with a sentence giving the run's own numbers,
beside tables of the data that went in, the windows per split, the configuration and the
provenance. A sweep folder (``sweep.json``) and a tune
folder (``tune.json``) bring their tables and the figures they drew.

Every figure is embedded as a PNG data URI and the style sheet is inline: nothing is fetched
from the network, and the page opens offline, on a phone as on a laptop.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepmouse.atomic import write_atomic
from deepmouse.jsonio import loads_strict
from deepmouse.recordings import CLASS_NAMES, DataError

REQUIRED_FILES = ("metrics.json", "config.json", "history.csv")
"""The files without which a folder is not a run folder (``data.json`` and the model file are
described when present: older run folders lack the first)."""
SWEEP_FIGURES = (("sweep_grid.png", "dev accuracy against the varied parameters"),
                 ("sweep.png", "mean dev accuracy per epoch of each combination"))
TUNE_FIGURES = (("tune_history.png", "dev accuracy of each finished trial and the best so far"),
                ("tune_importance.png", "how much each parameter mattered for dev accuracy"),
                ("tune_surface.png", "a Gaussian-process fit of dev accuracy over the two most "
                                     "important parameters, with its uncertainty"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDE_FIGURE = 800
"""Figures wider than this (px) keep at least 36rem of width on a narrow screen (``img.wide``
in :data:`STYLE`) and scroll sideways in their own box."""
DECISION_SECONDS = 10
"""The seconds of movement the decision's sentence quotes."""


# --- reading folders ----------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return loads_strict(path.read_bytes())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: corrupt file ({detail})") from None


def read_run(folder: str | Path) -> dict:
    """The data of one run folder: ``{"name", "metrics", "config", "history", "data"}``
    (``data`` is ``data.json``, ``None`` when the folder has none).

    Raises:
        DataError: a folder without the run's files, or a corrupt one (one line naming it).
    """
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: not a run folder (missing {', '.join(missing)})")
    metrics = _read_json(folder / "metrics.json")
    config = _read_json(folder / "config.json")
    if not isinstance(metrics, dict) or not isinstance(config, dict):
        raise DataError(f"{folder}: corrupt run file (metrics.json and config.json must hold "
                        "JSON objects)")
    data = _read_json(folder / "data.json") if (folder / "data.json").is_file() else None
    try:
        with open(folder / "history.csv", newline="", encoding="utf-8") as fh:
            history = [
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(fh)
            ]
    except (ValueError, TypeError) as exc:  # a cell that is not a number, a short row
        raise DataError(f"{folder / 'history.csv'}: corrupt run file ({exc})") from None
    return {"name": str(folder), "metrics": metrics, "config": config, "history": history,
            "data": data}


def _png(path: Path) -> bytes:
    """The bytes of a PNG file, refused (one line) if they are not a PNG."""
    raw = path.read_bytes()
    if not raw.startswith(PNG_SIGNATURE) or len(raw) < 24:
        raise DataError(f"{path}: corrupt figure (not a PNG file)")
    return raw


# --- HTML pieces ---------------------------------------------------------------------------------
def _esc(value) -> str:
    return html.escape(str(value))


def _fmt(value) -> str:
    """A table cell's text: floats to 3 decimals, ``None`` as a dash, the rest as text."""
    if value is None:
        return "–"
    if isinstance(value, float):  # a learning rate of 0.0004 is not 0.000
        return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"
    if isinstance(value, list | dict):
        return _esc(json.dumps(value))
    return _esc(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _table(header: list[str], rows: list[list], caption: str = "") -> str:
    """A ``<table>`` in its own scrolling box (a wide table never widens the page)."""
    head = "".join(f"<th scope='col'>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (f"<div class='scroll'><table>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _figure(png: bytes, alt: str, sentence: str) -> str:
    """An embedded PNG with its alt text and the sentence saying what it shows."""
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk: the browser keeps room
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    # a wide figure shrunk to a phone's width is unreadable: it scrolls in its own box instead
    wide = " class='wide'" if width > WIDE_FIGURE else ""
    return (f"<figure><div class='scroll'><img src='{uri}' alt='{_esc(alt)}' width='{width}' "
            f"height='{height}'{wide}></div><figcaption>{sentence}</figcaption></figure>")


def _flatten(d: dict, prefix: str = "") -> list[list]:
    """``{"a": {"b": 1}}`` → ``[["a.b", 1]]``: a nested configuration as table rows."""
    rows = []
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten(value, f"{name}.")
        else:
            rows.append([name, value])
    return rows


@dataclass
class _Figures:
    """Draws figures into a temporary folder and returns their bytes."""

    folder: Path
    count: int = 0

    def draw(self, plot: Callable[[Path], Path]) -> bytes:
        self.count += 1
        path = plot(self.folder / f"f{self.count}.png")
        return path.read_bytes()


# --- a run ------------------------------------------------------------------------------------
def _data_section(run: dict, figures: _Figures) -> str:
    """What went in: per class minutes, recordings, active share; sampling; an example window."""
    from deepmouse.plots import plot_example_windows

    data = run["data"]
    if data is None:
        return ("<h3>Data</h3><p class='note'>This run folder has no <code>data.json</code> "
                "(written by an older deepmouse): the data that went in is not described.</p>")
    classes = data["classes"]
    cfg = data["window_config"]
    total = sum(c["minutes"] for c in classes)
    rows = [[c["name"], c["recordings"], round(c["minutes"], 2), c["samples"],
             _pct(c["active_fraction"])] for c in classes]
    per_class = "; ".join(f"{c['name']} hand {c['minutes']:.1f} min in {c['recordings']} "
                          f"recording(s), {c['active_fraction']:.0%} of windows active"
                          for c in classes)
    parts = [
        "<h3>Data</h3>",
        f"<p>The model learned from {total:.1f} minutes of cursor movement in "
        f"<code>{_esc(data['dataset'])}</code>: {_esc(per_class)}. A window is "
        f"{cfg['window']} steps at {cfg['rate']:g} Hz ({cfg['window'] / cfg['rate']:g} s); "
        f"a window whose movement per step varies by no more than "
        f"{cfg['idle_threshold']:g} px (standard deviation) on either axis is idle and left "
        "out.</p>",
        _table(["hand", "recordings", "minutes", "samples", "active windows"], rows,
               "what went in, per hand"),
    ]
    timing = data.get("timing", [])
    if timing:
        rates = [t["achieved_rate"] for t in timing]
        worst = max(timing, key=lambda t: t["interval_p99_ms"])
        spikes = sum(t["spikes"] for t in timing)
        parts.append(
            f"<p>Sampling: {len(timing)} timed recording(s) at {min(rates):.1f}–"
            f"{max(rates):.1f} Hz achieved; the worst 99th-percentile interval between samples "
            f"is {worst['interval_p99_ms']:.1f} ms ({_esc(worst['name'])}), with {spikes} "
            f"delay spike(s) over twice the period.</p>")
        parts.append(_table(
            ["recording", "hand", "samples", "achieved Hz", "interval p99 (ms)", "spikes"],
            [[t["name"], t["label"], t["samples"], round(t["achieved_rate"], 2),
              round(t["interval_p99_ms"], 2), t["spikes"]] for t in timing],
            "sampling stability per recording"))
    if data.get("untimed_recordings"):
        parts.append(f"<p>{data['untimed_recordings']} recording(s) carry no timestamps "
                     "(headerless x,y files, taken as 100 Hz): their sampling is unknown.</p>")
    examples = {name: data["example_window"].get(name) for name in CLASS_NAMES}
    if any(e is not None for e in examples.values()):
        seconds = cfg["window"] / cfg["rate"]
        png = figures.draw(lambda p: plot_example_windows(examples, seconds, p))
        shown = [n for n, e in examples.items() if e is not None]
        parts.append(_figure(
            png, f"example window: the path on screen and dx, dy per step of one {seconds:g}-s "
                 f"window of the {' and '.join(shown)} hand",
            f"One active {seconds:g}-s window of each hand, as the model reads it: the path it "
            f"drew on the screen (green dot: its start) and its movement per step, "
            f"{cfg['window']} steps of dx and dy in pixels."))
    return "\n".join(parts)


def _windows_section(run: dict) -> str:
    windows = run["metrics"].get("windows") or {}
    if not windows:
        return ""
    rows = [[split, *(counts.get(n, 0) for n in CLASS_NAMES), sum(counts.values())]
            for split, counts in windows.items()]
    share = {split: sum(c.values()) for split, c in windows.items()}
    total = sum(share.values())
    split = run["metrics"].get("split", "chrono")
    sentence = ", ".join(f"{s} {n}" for s, n in share.items())
    return ("<h3>Windows per split</h3>"
            f"<p>{total} active windows in all ({_esc(split)} split): {_esc(sentence)}. The "
            "epoch is chosen on dev; test is scored once, after training.</p>"
            + _table(["split", *CLASS_NAMES, "all"], rows, "active windows per split and hand"))


def _curves_section(run: dict, figures: _Figures) -> str:
    from deepmouse.plots import plot_curves

    history, best = run["history"], run["metrics"].get("best_epoch")
    if not history:
        return ("<h3>Learning curves</h3><p class='note'>This model family trains in one step: "
                "no epochs to draw.</p>")
    png = figures.draw(lambda p: plot_curves(history, p, best))
    kept = next((r for r in history if r["epoch"] == best), history[-1])
    sentence = (f"Training ran {len(history)} epoch(s); the epoch kept, chosen on dev, is "
                f"{kept['epoch']}, with dev accuracy {kept['dev_accuracy']:.3f} and dev loss "
                f"{kept['dev_loss']:.3f} (train accuracy {kept['train_accuracy']:.3f}).")
    return "<h3>Learning curves</h3>" + _figure(
        png, f"learning curves: train and dev accuracy and loss over {len(history)} epochs",
        sentence)


def _test_section(run: dict, figures: _Figures) -> str:
    """Confusion matrix, ROC curve, decision over time and reliability of the test split."""
    from deepmouse.plots import (
        plot_confusion,
        plot_decision_over_time,
        plot_reliability,
        plot_roc,
    )

    test = run["metrics"]["test"]
    n = test["n_windows"]
    cm = test["confusion"]
    parts = ["<h3>Test split</h3>"]
    per_hand = "; ".join(f"{cm[i][i]} of {sum(cm[i])} {name}-hand windows"
                         for i, name in enumerate(CLASS_NAMES) if sum(cm[i]))
    parts.append(_figure(
        figures.draw(lambda p: plot_confusion(cm, p, "test split")),
        f"confusion matrix of the {n} test windows: rows the true hand, columns the predicted",
        f"On the {n} test windows, {test['accuracy']:.0%} were right: {_esc(per_hand)} were "
        "called correctly."))
    roc = test.get("roc")
    if roc:
        auc = test.get("roc_auc")
        parts.append(_figure(
            figures.draw(lambda p: plot_roc(roc, auc, p, "test split")),
            f"ROC curve of the test windows, area under the curve {auc:.3f}",
            f"Ranking the test windows by P(left), the area under the ROC curve is {auc:.3f} "
            "(0.5 is chance, 1 a perfect ranking): the curve shows every trade-off between "
            "left-hand windows caught and right-hand windows mistaken for left."))
    elif test.get("roc_auc") is None:
        parts.append("<p class='note'>One hand only in the test split: no ROC curve.</p>")
    else:
        parts.append("<p class='note'>No ROC points in this metrics.json (an older "
                     f"deepmouse); the area under the curve is {test['roc_auc']:.3f}.</p>")
    parts.append(_figure(
        figures.draw(lambda p: plot_decision_over_time(test, p, "test split")),
        "decision accuracy and fraction of trials decided against seconds of movement",
        _decision_sentence(test)))
    parts.append(_figure(
        figures.draw(lambda p: plot_reliability(test, p, "test split")),
        "reliability diagram: predicted P(left) against the observed share of left-hand "
        "windows", _calibration_sentence(test)))
    return "\n".join(parts)


def _decision_sentence(test: dict) -> str:
    sequential = test.get("sequential")
    mean_rule = test.get("decision_accuracy", {})
    rule = ", ".join(f"{a:.0%} after {h} s" for h, a in mean_rule.items() if a is not None)
    rule_text = (f" Averaging the windows' log-odds and always deciding (DeepMouse's rule) is "
                 f"right {rule}." if rule else "")
    if not sequential:
        return ("This run has no sequential decision (see the warnings)." + rule_text)
    curve = [c for c in sequential["curve"] if c["seconds"] <= DECISION_SECONDS]
    at = curve[-1] if curve else sequential["curve"][0]
    median = sequential.get("median_seconds")
    overall = f"; within 60 s it decides {sequential['decided']:.0%} of trials" + (
        f", right {_pct(sequential['accuracy'])} of the time, after a median {median:.1f} s"
        if median is not None else "")
    start = (f"On {sequential['trials']} test trials (one starting every 5 s of movement), "
             f"after {at['seconds']} s of movement the decision at P ≥ "
             f"{sequential['threshold']:g}")
    if at["accuracy"] is None:
        return f"{start} is not made in any trial yet{overall}." + rule_text
    return (f"{start} is right {at['accuracy']:.0%} of the time and made in {at['decided']:.0%} "
            f"of trials{overall}." + rule_text)


def _calibration_sentence(test: dict) -> str:
    parts = [f"windows as scored {test['ece']:.3f}"] if test.get("ece") is not None else []
    if test.get("ece_calibrated") is not None:
        parts.append(f"calibrated on dev {test['ece_calibrated']:.3f}")
    sequential = test.get("sequential") or {}
    if sequential.get("ece") is not None:
        parts.append(f"the sequential posterior {sequential['ece']:.3f}")
    return ("Points on the diagonal are probabilities that mean what they say; the expected "
            f"calibration error on the test split is: {', '.join(parts)}.")


def _provenance_rows(metrics: dict) -> tuple[list[list], str]:
    """How the model was made as table rows, and a note when metrics.json lacks it."""
    rows = [["split", metrics.get("split")], ["held out", metrics.get("held_out")],
            ["kept epoch", metrics.get("best_epoch")],
            ["training seconds", metrics.get("train_seconds")]]
    provenance = metrics.get("provenance")
    if provenance is None:  # run folders of older versions keep it in the model file only
        return rows, "this metrics.json has no provenance (an older deepmouse); the model " \
                     "file's metadata has it"
    return rows + _flatten({k: v for k, v in provenance.items() if k != "windows"}), ""


def _run_section(index: int, run: dict, figures: _Figures) -> str:
    metrics = run["metrics"]
    warnings = "".join(f"<p class='warn'>{_esc(w)}</p>" for w in metrics.get("warnings", []))
    provenance, note = _provenance_rows(metrics)
    return f"""
<section id="run{index}">
<h2>Run <code>{_esc(run['name'])}</code></h2>
{warnings}
{_table(["metric", "dev", "test"], _metrics_rows(metrics), "per-window and decision metrics")}
{_data_section(run, figures)}
{_windows_section(run)}
{_curves_section(run, figures)}
{_test_section(run, figures)}
<h3>Configuration</h3>
{_table(["setting", "value"], _flatten(run["config"]), "config.json")}
<h3>Provenance</h3>
{f"<p class='note'>{_esc(note)}</p>" if note else ""}
{_table(["item", "value"], provenance, "how the model was made")}
</section>"""


def _metrics_rows(metrics: dict) -> list[list]:
    dev, test = metrics["dev"], metrics["test"]
    rows = [[key, dev.get(key), test.get(key)]
            for key in ("accuracy", "roc_auc", "loss", "ece", "n_windows")]
    for h, value in test["decision_accuracy"].items():
        rows.append([f"mean rule, decision after {h} s", dev["decision_accuracy"].get(h), value])
    sequential = test.get("sequential")
    if sequential:
        rows += [["sequential: trials decided", None, sequential["decided"]],
                 ["sequential: accuracy of decisions", None, sequential["accuracy"]],
                 ["sequential: median seconds to decide", None, sequential["median_seconds"]]]
    return rows


# --- sweep and tune folders -------------------------------------------------------------------
def read_sweep(folder: Path) -> list[dict]:
    """``sweep.json``: one summary per combination (:func:`deepmouse.search.summarise_sweep`)."""
    summary = _read_json(folder / "sweep.json")
    keys = {"params", "dev_accuracy_mean", "dev_accuracy_std", "n_seeds"}
    if not isinstance(summary, list) or not all(isinstance(s, dict) and keys <= set(s)
                                                and isinstance(s["params"], dict)
                                                for s in summary):
        raise DataError(f"{folder / 'sweep.json'}: corrupt file (expected the list of "
                        "combinations deepmouse sweep writes)")
    return summary


def _folder_figures(folder: Path, names: tuple[tuple[str, str], ...]) -> list[str]:
    return [_figure(_png(folder / name), f"{name}: {what}", f"<code>{name}</code>: {what}.")
            for name, what in names if (folder / name).is_file()]


def _sweep_section(index: int, folder: Path) -> str:
    summary = read_sweep(folder)
    names = sorted({k for s in summary for k in s["params"]})
    rows = [[rank, *(s["params"].get(n) for n in names), s["dev_accuracy_mean"],
             s["dev_accuracy_std"], s.get("dev_loss_mean"), s["n_seeds"]]
            for rank, s in enumerate(summary, 1)]
    if summary:
        best = summary[0]
        chosen = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        sentence = (f"{len(summary)} combination(s) of {_esc(', '.join(names))}; the best "
                    f"({_esc(chosen)}) reaches a mean dev accuracy of "
                    f"{best['dev_accuracy_mean']:.3f} ± {best['dev_accuracy_std']:.3f} over "
                    f"{best['n_seeds']} seed(s).")
    else:
        sentence = "No finished combination yet."
    return f"""
<section id="sweep{index}">
<h2>Sweep <code>{_esc(folder)}</code></h2>
<p>{sentence} Selection is on dev only; the test split is not touched.</p>
{_table(["rank", *names, "dev accuracy (mean)", "std", "dev loss (mean)", "seeds"], rows,
        "sweep.json, best first")}
{''.join(_folder_figures(folder, SWEEP_FIGURES))}
</section>"""


def read_tune(folder: Path) -> dict:
    """``tune.json`` (:func:`deepmouse.search.tune`)."""
    summary = _read_json(folder / "tune.json")
    if not isinstance(summary, dict) or not isinstance(summary.get("best_params"), dict) \
            or not isinstance(summary.get("trials", []), list):
        raise DataError(f"{folder / 'tune.json'}: corrupt file (expected what deepmouse tune "
                        "writes)")
    return summary


def _tune_section(index: int, folder: Path) -> str:
    summary = read_tune(folder)
    best = summary["best_params"]
    trials = summary.get("trials")
    best_value = summary.get("best_dev_accuracy")
    sentence = (f"Study '{_esc(summary.get('study'))}' of the {_esc(summary.get('family'))} "
                f"family holds {summary.get('n_trials')} finished trial(s); the best reached a "
                f"dev accuracy of {_fmt(best_value)}.")
    if trials:
        names = sorted({k for t in trials for k in t.get("params", {})})
        rows = [[t.get("number"), *(t.get("params", {}).get(n) for n in names),
                 t.get("dev_accuracy"), t.get("dev_loss"), t.get("best_epoch"), t.get("seconds")]
                for t in sorted(trials, key=lambda t: -(t.get("dev_accuracy") or 0))]
        trial_table = _table(["trial", *names, "dev accuracy", "dev loss", "kept epoch",
                              "seconds"], rows, "finished trials, best first")
    else:
        trial_table = ("<p class='note'>This tune.json lists no trials (written by an older "
                       "deepmouse).</p>")
    fixed = {k: v for k, v in (summary.get("fixed_params") or {}).items() if k not in best}
    return f"""
<section id="tune{index}">
<h2>Tuning <code>{_esc(folder)}</code></h2>
<p>{sentence} Train it with <code>deepmouse train DATASET --params
{_esc(folder / 'tune.json')}</code>.</p>
{_table(["parameter", "best value"], [[k, v] for k, v in best.items()], "best parameters")}
{_table(["parameter", "fixed value"], [[k, v] for k, v in fixed.items()],
        "other parameters, held fixed") if fixed else ""}
{trial_table}
{''.join(_folder_figures(folder, TUNE_FIGURES))}
</section>"""


# --- the page ---------------------------------------------------------------------------------
STYLE = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.45;
       color: #1e1e1e; background: #fff; margin: 0 auto; padding: 1rem; max-width: 64rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; border-top: 1px solid #ccc;
padding-top: 1rem; } h3 { font-size: 1.1rem; margin-top: 1.8rem; }
h1, h2, h3, p, figcaption, code { overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; margin: .8rem 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-size: .85rem; color: #555; padding-bottom: .2rem; }
td, th { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; white-space: nowrap; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1.2rem 0; }
img { display: block; max-width: 100%; height: auto; }
img.wide { min-width: 36rem; }
figcaption { font-size: .95rem; margin-top: .3rem; color: #333; }
.warn { color: #8a4b00; } .note { color: #555; font-style: italic; }
nav ul { padding-left: 1.2rem; }
"""


def _kind(folder: Path) -> str:
    """``run``, ``sweep`` or ``tune``; one line for a path that is none of them."""
    if not folder.exists():
        raise DataError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder (give a run, sweep or tune folder)")
    if (folder / "tune.json").is_file():
        return "tune"
    if (folder / "sweep.json").is_file():
        return "sweep"
    return "run"


def build_report(
    folders: list[str | Path], out: str | Path, title: str = "deepmouse report"
) -> Path:
    """Write one HTML page describing run, sweep and tune ``folders``; returns its path.

    Every folder's tables are read (and refused, one line) before anything is drawn; the page
    is written at the end, or not at all.

    Raises:
        DataError: a folder that is not a complete run, sweep or tune folder, or a corrupt file
            in one.
    """
    if not folders:
        raise DataError("give at least one run, sweep or tune folder")
    items = []
    for folder in map(Path, folders):
        kind = _kind(folder)
        items.append((kind, folder, read_run(folder) if kind == "run" else None))
    for kind, folder, _ in items:  # corrupt sweep and tune files fail before any drawing
        if kind == "sweep":
            read_sweep(folder)
        elif kind == "tune":
            read_tune(folder)
    sections, summary, contents = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        figures = _Figures(Path(tmp))
        for i, (kind, folder, run) in enumerate(items):
            try:
                if kind == "sweep":
                    sections.append(_sweep_section(i, folder))
                elif kind == "tune":
                    sections.append(_tune_section(i, folder))
                else:
                    sections.append(_run_section(i, run, figures))
                    summary.append(_summary_row(i, run))
            except (KeyError, TypeError, IndexError, AttributeError) as exc:
                # valid JSON of the wrong shape: a field missing, a number where a list was
                raise DataError(f"{folder}: corrupt {kind} folder (unexpected content: "
                                f"{type(exc).__name__} {exc})") from None
            contents.append(f"<li><a href='#{kind}{i}'>{kind} <code>{_esc(folder)}</code></a>"
                            "</li>")
    overview = ("<p>Test figures are from the held-out test split, scored once after training; "
                "the kept epoch was chosen on dev.</p>"
                + _table(["run", "family", "split", "dev accuracy", "test accuracy",
                          "test, after 10 s (mean rule)", "training s"], summary,
                         "runs at a glance")) if summary else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{_esc(title)}</h1>
<nav><ul>{''.join(contents)}</ul></nav>
{overview}
{''.join(sections)}
</body></html>
"""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, page)
    return out


def _summary_row(index: int, run: dict) -> list:
    m, config = run["metrics"], run["config"]
    family = config.get("family", config.get("resolved_params", {}).get("model"))
    return [run["name"], family, m.get("split"), m["dev"]["accuracy"], m["test"]["accuracy"],
            m["test"]["decision_accuracy"].get("10"), m.get("train_seconds")]
