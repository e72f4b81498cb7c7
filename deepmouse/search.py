"""Hyperparameter search: grid sweeps averaged over seeds, and Optuna tuning.

Both call the same training as ``deepmouse train`` (:class:`~deepmouse.classifier.HandClassifier`
on the windows of :func:`~deepmouse.pipeline.prepare_run`) and score on the **dev** split only;
the test split is never looked at here.

- :func:`sweep` — DeepMouse iterations 03/04: every combination of a grid (e.g. learning rates ×
  batch sizes), each trained with several seeds, summarised as mean ± std of the best dev
  accuracy, with the per-epoch dev curves kept for plotting. Results are appended to
  ``sweep.csv`` / ``sweep_history.csv`` after every trial, so an interrupted sweep resumes
  where it stopped.
- :func:`tune` — DeepMouse iteration 06, with Optuna's TPE sampler and the family's
  define-by-run search space (:meth:`deepmouse.families.Family.search_space`). The study lives
  in an Optuna storage URL: SQLite by default (``sqlite:///runs/tune/optuna.db``), PostgreSQL
  to run many workers on many machines against one study. Re-running with the same storage
  and study name continues the study.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deepmouse.atomic import write_atomic
from deepmouse.classifier import HandClassifier
from deepmouse.evaluate import evaluate_windows
from deepmouse.jsonio import dumps_strict
from deepmouse.pipeline import PreparedRun, RunConfig, prepare_run

SWEEP_COLUMNS = ["trial", "seed", "params", "best_epoch", "dev_accuracy", "dev_loss", "seconds"]


GRID_EXAMPLE = "expected NAME=V1,V2,... (e.g. lr=1e-3,1e-4)"


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=1e-3,1e-4", "batch_size=16,32"]`` → ``{"lr": [0.001, 0.0001], ...}``.

    Numbers are parsed (integers stay integers); dashes in names become underscores.

    Raises:
        ValueError: one line naming the entry and what was expected: a missing ``=``, a name
            that is not a parameter name, an empty value, NaN or infinity, a name or a value
            given twice (a value twice would train the same trial twice and count it as two
            seeds).
    """
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ValueError(f"grid entry {item!r}: {GRID_EXAMPLE}")
        if not name.isidentifier():
            raise ValueError(f"grid entry {item!r}: {name!r} is not a parameter name; "
                             f"{GRID_EXAMPLE}")
        if name in grid:
            raise ValueError(f"grid entry {item!r}: {name} is given twice (list its values in "
                             "one entry)")
        parsed = [_parse_value(item, v) for v in values.split(",")]
        for i, value in enumerate(parsed):
            if value in parsed[:i]:
                raise ValueError(f"grid entry {item!r}: the value {value!r} is given twice")
        grid[name] = parsed
    return grid


def _parse_value(item: str, text: str) -> int | float | str:
    text = text.strip()
    if not text:
        raise ValueError(f"grid entry {item!r}: an empty value; {GRID_EXAMPLE}")
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if not math.isfinite(value):
            raise ValueError(f"grid entry {item!r}: NaN or infinity (expected finite numbers)")
        return value
    return text


def train_and_score_on_dev(prepared: PreparedRun, params: dict, seed: int) -> dict:
    """Train one model on the train split with ``params`` and ``seed``; score it on dev.

    Returns ``best_epoch``, ``dev_accuracy``, ``dev_loss``, ``seconds`` (training) and the
    per-epoch ``history``.
    """
    splits = prepared.splits
    clf = HandClassifier(**{**prepared.config.params, **params, "seed": seed})
    start = time.perf_counter()
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y)
    seconds = time.perf_counter() - start
    p_left = clf.predict_proba(splits.dev.X)[:, 1]
    dev = evaluate_windows(p_left, splits.dev.y, splits.dev.recording, splits.config.seconds)
    return {
        "best_epoch": clf.best_epoch_,
        "dev_accuracy": dev["accuracy"],
        "dev_loss": dev["loss"],
        "seconds": seconds,
        "history": clf.history_,
    }


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _append_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Rewrite ``path`` with its old rows plus ``rows``, atomically."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(_read_csv(path) + rows)
    write_atomic(path, buf.getvalue())


def sweep(
    config: RunConfig | PreparedRun,
    grid: dict[str, list],
    seeds: list[int],
    out: str | Path,
    on_trial: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train every grid combination with every seed; summarise the dev accuracy.

    Writes ``out/sweep.csv`` (one row per trial), ``out/sweep_history.csv`` (one row per trial
    and epoch), ``out/sweep.json`` (the summary) and ``out/sweep.png`` (mean dev accuracy per
    epoch of each combination). Trials already in ``sweep.csv`` are not run again.

    Returns:
        One summary dict per combination: ``params``, ``dev_accuracy_mean``,
        ``dev_accuracy_std``, ``dev_loss_mean``, ``n_seeds``, sorted best first.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not grid:
        raise ValueError("empty grid: give at least one NAME=V1,V2 entry")
    if not seeds:
        raise ValueError("give at least one seed")
    prepared = config if isinstance(config, PreparedRun) else prepare_run(config)
    config = prepared.config
    taken = config.classifier().get_params()
    unknown = sorted(set(grid) - set(taken) - {"family"})
    if unknown:
        raise ValueError(f"unknown parameter(s) in grid: {', '.join(unknown)} (the "
                         f"{taken['family']} family takes {', '.join(sorted(taken))})")
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for params in combos:  # validate every combination before training any
        HandClassifier(**{**config.params, **params}).check_params()
    done = {(r["params"], r["seed"]) for r in _read_csv(out / "sweep.csv")}
    for i, params in enumerate(combos):
        for seed in seeds:
            key = (json.dumps(params, sort_keys=True), str(seed))
            if key in done:
                continue
            result = train_and_score_on_dev(prepared, params, seed)
            row = {"trial": i, "seed": seed, "params": key[0], **result}
            history = [{"trial": i, "seed": seed, "params": key[0], **h} for h in result["history"]]
            _append_rows(out / "sweep_history.csv", history,
                         ["trial", "seed", "params", "epoch", "train_loss", "train_accuracy",
                          "dev_loss", "dev_accuracy"])
            _append_rows(out / "sweep.csv", [row], SWEEP_COLUMNS)
            if on_trial is not None:
                on_trial(row)
    summary = summarise_sweep(_read_csv(out / "sweep.csv"))
    write_atomic(out / "sweep.json", dumps_strict(summary, indent=2) + "\n")
    plot_sweep(_read_csv(out / "sweep_history.csv"), summary, out / "sweep.png")
    return summary


def summarise_sweep(rows: list[dict]) -> list[dict]:
    """Mean ± std of the best dev accuracy over seeds, per combination, best first."""
    by_params: dict[str, list[dict]] = {}
    for row in rows:
        by_params.setdefault(row["params"], []).append(row)
    summary = []
    for params, trials in by_params.items():
        acc = np.array([float(t["dev_accuracy"]) for t in trials])
        loss = np.array([float(t["dev_loss"]) for t in trials])
        summary.append({
            "params": json.loads(params),
            "dev_accuracy_mean": float(acc.mean()),
            "dev_accuracy_std": float(acc.std()),
            "dev_loss_mean": float(loss.mean()),
            "n_seeds": len(trials),
        })
    return sorted(summary, key=lambda s: -s["dev_accuracy_mean"])


def plot_sweep(history: list[dict], summary: list[dict], path: Path) -> None:
    """Mean dev accuracy per epoch (over seeds) of each combination, as DeepMouse plotted; for
    a family without epochs, the mean ± std dev accuracy of each combination."""
    import matplotlib.pyplot as plt

    from deepmouse.plots import save_figure

    fig, ax = plt.subplots(figsize=(7, 4))
    if not history:
        labels = [", ".join(f"{k}={v}" for k, v in s["params"].items()) for s in summary]
        ax.errorbar(range(len(summary)), [s["dev_accuracy_mean"] for s in summary],
                    yerr=[s["dev_accuracy_std"] for s in summary], fmt="o", capsize=4)
        ax.set_xticks(range(len(summary)), labels, rotation=20, fontsize=8)
        ax.set_ylabel("dev accuracy (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        save_figure(fig, path)
        return
    by_params: dict[str, dict[int, list[float]]] = {}
    for row in history:
        curve = by_params.setdefault(row["params"], {})
        curve.setdefault(int(row["epoch"]), []).append(float(row["dev_accuracy"]))
    for params, curve in by_params.items():
        epochs = sorted(curve)
        mean = np.array([np.mean(curve[e]) for e in epochs])
        std = np.array([np.std(curve[e]) for e in epochs])
        label = ", ".join(f"{k}={v}" for k, v in json.loads(params).items())
        ax.plot(epochs, mean, label=label)
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev accuracy (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


DEFAULT_STUDY = "deepmouse"
"""The Optuna study name when none is given (same name and storage: the same search)."""


def default_storage(out: str | Path) -> str:
    return f"sqlite:///{Path(out).resolve() / 'optuna.db'}"


def open_study(storage: str, study_name: str = DEFAULT_STUDY, seed: int = 0):
    """Create or continue an Optuna study (maximising dev accuracy) at a storage URL.

    Raises:
        ValueError: a bad URL, a missing database driver or an unreachable server.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(
            study_name=study_name,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
    except Exception as exc:  # bad URL, missing driver, unreachable server
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, ImportError) and storage.startswith("postgresql"):
            detail = "PostgreSQL needs its driver: pip install 'deepmouse[postgres]'"
        raise ValueError(f"cannot open Optuna storage {storage!r}: {detail}") from None


def tune(
    config: RunConfig | PreparedRun,
    n_trials: int,
    out: str | Path,
    storage: str | None = None,
    study_name: str = DEFAULT_STUDY,
    on_trial: Callable[[dict], None] | None = None,
    study=None,
) -> dict:
    """Optuna search maximising dev accuracy (dev loss breaks ties via the sampler's history).

    Args:
        config: the run to tune; its model family (``deepmouse train``'s default unless
            ``config.params["family"]`` names one) owns the search space.
        n_trials: trials to add to the study (by this worker).
        storage: an Optuna storage URL; default SQLite in ``out``. Several workers with one
            PostgreSQL URL and study name search together.
        study: an already opened study (:func:`open_study`); overrides storage/study_name.

    Returns:
        ``{"best_params", "best_dev_accuracy", "n_trials", "storage", "study"}`` (also written
        to ``out/tune.json``).
    """
    import optuna

    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prepared = config if isinstance(config, PreparedRun) else prepare_run(config)
    config = prepared.config
    family = config.classifier().family_object()
    if study is None:
        study = open_study(storage or default_storage(out), study_name, config.seed)
    storage = storage or default_storage(out)

    def objective(trial: optuna.Trial) -> float:
        params = family.search_space(trial)
        result = train_and_score_on_dev(prepared, params, config.seed)
        trial.set_user_attr("dev_loss", result["dev_loss"])
        trial.set_user_attr("best_epoch", result["best_epoch"])
        trial.set_user_attr("seconds", result["seconds"])
        if on_trial is not None:
            on_trial({"number": trial.number, "params": params, **result})
        return result["dev_accuracy"]

    study.optimize(objective, n_trials=n_trials)
    summary = {
        "study": study.study_name,
        "storage": storage,
        "family": family.name,
        "n_trials": len(study.trials),
        "best_params": study.best_params,
        "best_dev_accuracy": study.best_value,
    }
    write_atomic(out / "tune.json", dumps_strict(summary, indent=2) + "\n")
    return summary
