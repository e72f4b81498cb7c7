"""Hyperparameter search: grid sweeps averaged over seeds, and Optuna tuning.

Both call the same training as ``deepmouse train`` (:class:`~deepmouse.classifier.HandClassifier`
on the windows of :func:`~deepmouse.pipeline.prepare_run`) and score on the **dev** split only;
the test split is never looked at here.

- :func:`sweep` — DeepMouse iterations 03/04: every combination of a grid (e.g. learning rates ×
  batch sizes), each trained with several seeds, summarised as mean ± std of the best dev
  accuracy, with the per-epoch dev curves kept for plotting. Each finished trial is written to
  ``sweep_history.csv`` and then ``sweep.csv`` (atomically), so a sweep killed at any moment and
  run again trains only the trials ``sweep.csv`` does not hold.
- :func:`tune` — DeepMouse iteration 06, with Optuna's TPE sampler and the family's
  define-by-run search space (:meth:`deepmouse.families.Family.search_space`). The study lives
  in an Optuna storage URL: SQLite by default (``sqlite:///runs/tune/optuna.db``), PostgreSQL
  to run many workers on many machines against one study. ``n_trials`` is the number of
  finished trials the study should hold: a worker killed at any moment and started again (or a
  second worker) runs only what is missing. Workers send a heartbeat; a trial whose worker
  died is marked failed once the heartbeat is overdue and its parameters are tried again.

Both hold a lock on their output folder (:func:`~deepmouse.atomic.folder_lock`).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from deepmouse.atomic import folder_lock, write_atomic
from deepmouse.classifier import HandClassifier
from deepmouse.evaluate import evaluate_windows
from deepmouse.jsonio import dumps_strict, loads_strict
from deepmouse.pipeline import PreparedRun, RunConfig, prepare_run
from deepmouse.windows import WindowConfig, make_splits

SWEEP_COLUMNS = ["trial", "seed", "params", "best_epoch", "train_windows", "dev_accuracy",
                 "dev_loss", "seconds"]
RUN_GRID = ("window", "train_size")
"""Grid parameters of the run rather than of the family: the window length in steps
(DeepMouse's window-size study) and the fraction of the training windows used (its learning
curves over the amount of data)."""
HISTORY_COLUMNS = ["trial", "seed", "params", "epoch", "train_loss", "train_accuracy", "dev_loss",
                   "dev_accuracy"]


GRID_EXAMPLE = "expected NAME=V1,V2,... (e.g. lr=1e-3,1e-4)"
PARAM_EXAMPLE = "expected NAME=VALUE (e.g. lr=1e-3)"


def parse_grid(items: list[str], option: str = "--grid") -> dict[str, list]:
    """``["lr=1e-3,1e-4", "batch_size=16,32"]`` → ``{"lr": [0.001, 0.0001], ...}``.

    Numbers are parsed (integers stay integers); dashes in names become underscores.
    ``option`` names the command-line option the entries came from, for the messages.

    Raises:
        ValueError: one line naming the entry and what was expected: a missing ``=``, a name
            that is not a parameter name, an empty value, NaN or infinity, a name or a value
            given twice (a value twice would train the same trial twice and count it as two
            seeds).
    """
    example = GRID_EXAMPLE if option == "--grid" else PARAM_EXAMPLE
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ValueError(f"{option} {item!r}: {example}")
        if not name.isidentifier():
            raise ValueError(f"{option} {item!r}: {name!r} is not a parameter name; "
                             f"{example}")
        if name in grid:
            raise ValueError(f"{option} {item!r}: {name} is given twice (list its values in "
                             "one entry)")
        parsed = [_parse_value(f"{option} {item!r}", example, v) for v in values.split(",")]
        for i, value in enumerate(parsed):
            if value in parsed[:i]:
                raise ValueError(f"{option} {item!r}: the value {value!r} is given twice")
        grid[name] = parsed
    return grid


def _parse_value(where: str, example: str, text: str) -> int | float | str:
    text = text.strip()
    if not text:
        raise ValueError(f"{where}: an empty value; {example}")
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if not math.isfinite(value):
            raise ValueError(f"{where}: NaN or infinity (expected finite numbers)")
        return value
    return text


MAX_PARAMS_FILE = 1_000_000
"""Largest parameters file read (bytes): far more than any family's parameters."""


def read_params_file(path: str | Path) -> dict:
    """The parameters in a JSON file: a ``tune.json`` (its ``family``, the ``fixed_params`` it
    was tuned with and its ``best_params``) or a plain object of ``NAME: value`` (with an
    optional ``family``).

    Returns:
        The parameters, with ``family`` when the file names one.

    Raises:
        DataError: a missing, oversized, non-UTF-8 or non-strict-JSON file, or one whose
            parameters are not names with numbers or strings (one line naming the file).
    """
    from deepmouse.recordings import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such parameters file")
    if path.stat().st_size > MAX_PARAMS_FILE:
        raise DataError(f"{path}: a parameters file larger than {MAX_PARAMS_FILE} bytes")
    try:
        data = loads_strict(path.read_bytes())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a JSON parameters file ({detail})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of parameters, got "
                        f"{type(data).__name__}")
    params = data.get("best_params", data)
    fixed = data.get("fixed_params", {}) if "best_params" in data else {}
    if not isinstance(params, dict) or not isinstance(fixed, dict):
        raise DataError(f"{path}: best_params and fixed_params must be objects of parameters")
    params = fixed | params
    family = data.get("family")
    if family is not None and not isinstance(family, str):
        raise DataError(f"{path}: family must be a string, got {family!r}")
    params = {k: v for k, v in params.items() if k != "family"}
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str | None):
            raise DataError(f"{path}: parameter {name!r} must be a number, a string or null, got "
                            f"{json.dumps(value)[:60]}")
    return ({"family": family} if family is not None else {}) | params


def train_and_score_on_dev(prepared: PreparedRun, params: dict, seed: int,
                           train_size: float = 1.0) -> dict:
    """Train one model on the train split with ``params`` and ``seed``; score it on dev.

    ``train_size`` is the fraction of the training windows used, drawn per hand (so both stay)
    by a generator seeded with ``seed``: the same windows for the same seed.

    Returns ``best_epoch``, ``dev_accuracy``, ``dev_loss``, ``seconds`` (training), the number
    of ``train_windows`` and the per-epoch ``history``.
    """
    splits = prepared.splits
    keep = training_subset(splits.train.y, train_size, seed)
    clf = HandClassifier(**{**prepared.config.params, **params, "seed": seed})
    start = time.perf_counter()
    clf.fit(splits.train.X[keep], splits.train.y[keep], splits.dev.X, splits.dev.y)
    seconds = time.perf_counter() - start
    p_left = clf.predict_proba(splits.dev.X)[:, 1]
    dev = evaluate_windows(p_left, splits.dev.y, splits.dev.recording, splits.config.seconds)
    return {
        "best_epoch": clf.best_epoch_,
        "train_windows": int(len(keep)),
        "dev_accuracy": dev["accuracy"],
        "dev_loss": dev["loss"],
        "seconds": seconds,
        "history": clf.history_,
    }


def training_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices ``(k,)`` (sorted) of a ``fraction`` of the training windows with labels ``y``
    ``(n,)``: that share of each hand's windows, at least one each, drawn with ``seed``."""
    if fraction == 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        of_hand = np.flatnonzero(y == label)
        take = max(1, round(fraction * len(of_hand)))
        chosen.append(rng.choice(of_hand, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def check_run_values(grid: dict[str, list]) -> None:
    """Raise ValueError for a bad value of a run-level grid parameter (:data:`RUN_GRID`)."""
    for value in grid.get("train_size", []):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ValueError(f"train_size must be a fraction in (0, 1], got {value!r}")
    for value in grid.get("window", []):
        WindowConfig(window=value)  # the same checks as anywhere else


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Write ``rows`` as ``path``'s CSV, atomically."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
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
    and epoch), ``out/sweep.json`` (the summary), ``out/sweep.png`` (mean dev accuracy per
    epoch of each combination) and, when one or two parameters vary, ``out/sweep_grid.png``
    (:func:`plot_grid`). Besides the family's parameters, the grid may vary the run's
    :data:`RUN_GRID`. Trials already in ``sweep.csv`` are not run again.

    Raises:
        ValueError: an empty grid or seed list, an unknown parameter or a bad value.
        FolderBusyError: another command is writing to ``out``.

    Returns:
        One summary dict per combination: ``params``, ``dev_accuracy_mean``,
        ``dev_accuracy_std``, ``dev_loss_mean``, ``n_seeds``, sorted best first.
    """
    if not grid:
        raise ValueError("empty grid: give at least one NAME=V1,V2 entry")
    if not seeds:
        raise ValueError("give at least one seed")
    prepared = config if isinstance(config, PreparedRun) else prepare_run(config)
    config = prepared.config
    taken = config.classifier().get_params()
    unknown = sorted(set(grid) - set(taken) - {"family"} - set(RUN_GRID))
    if unknown:
        raise ValueError(f"unknown parameter(s) in grid: {', '.join(unknown)} (the "
                         f"{taken['family']} family takes {', '.join(sorted(taken))}; a sweep "
                         f"also varies {' and '.join(RUN_GRID)})")
    check_run_values(grid)
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for combo in combos:  # validate every combination before training any
        params = {k: v for k, v in combo.items() if k not in RUN_GRID}
        clf = HandClassifier(**{**config.params, **params})
        clf.check_params()
        clf.check_window_length(combo.get("window", prepared.splits.config.window))
    windowed: dict[int, PreparedRun] = {}
    with folder_lock(out) as out:
        done = {(r["params"], r["seed"]) for r in _read_csv(out / "sweep.csv")}
        # a kill between a trial's two writes leaves its history without its row: drop it, the
        # trial is trained again
        history = _read_csv(out / "sweep_history.csv")
        if any((r["params"], r["seed"]) not in done for r in history):
            _write_rows(out / "sweep_history.csv",
                        [r for r in history if (r["params"], r["seed"]) in done], HISTORY_COLUMNS)
        for i, params in enumerate(combos):
            for seed in seeds:
                key = (json.dumps(params, sort_keys=True), str(seed))
                if key in done:
                    continue
                run = _windowed(prepared, params.get("window"), windowed)
                family_params = {k: v for k, v in params.items() if k not in RUN_GRID}
                result = train_and_score_on_dev(run, family_params, seed,
                                                params.get("train_size", 1.0))
                row = {"trial": i, "seed": seed, "params": key[0], **result}
                history = [{"trial": i, "seed": seed, "params": key[0], **h}
                           for h in result["history"]]
                _write_rows(out / "sweep_history.csv",
                            _read_csv(out / "sweep_history.csv") + history, HISTORY_COLUMNS)
                _write_rows(out / "sweep.csv", _read_csv(out / "sweep.csv") + [row],
                            SWEEP_COLUMNS)
                if on_trial is not None:
                    on_trial(row)
        # the folder may hold the trials of an earlier grid: summarise this one's
        this_grid = {json.dumps(params, sort_keys=True) for params in combos}
        summary = summarise_sweep([r for r in _read_csv(out / "sweep.csv")
                                   if r["params"] in this_grid])
        write_atomic(out / "sweep.json", dumps_strict(summary, indent=2) + "\n")
        plot_sweep([r for r in _read_csv(out / "sweep_history.csv") if r["params"] in this_grid],
                   summary, out / "sweep.png")
        varied = [name for name, values in grid.items() if len(values) > 1]
        if 1 <= len(varied) <= 2:
            plot_grid(summary, varied, out / "sweep_grid.png")
    return summary


def _windowed(prepared: PreparedRun, window: int | None,
              cache: dict[int, PreparedRun]) -> PreparedRun:
    """``prepared`` cut into windows of ``window`` steps (``None``: as it is), made once."""
    if window is None or window == prepared.splits.config.window:
        return prepared
    if window not in cache:
        config = replace(prepared.config, window=window)
        splits = make_splits(prepared.dataset, config.window_config(), config.split, config.seed)
        cache[window] = PreparedRun(config, prepared.dataset, splits, prepared.warnings)
    return cache[window]


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


def plot_grid(summary: list[dict], varied: list[str], path: Path) -> None:
    """Dev accuracy over the grid: against the parameter with a ±1 std band (over seeds) when
    one parameter varies, a heat map of the mean (std in each cell) when two do."""
    import matplotlib.pyplot as plt

    from deepmouse.plots import save_figure

    def axis_values(name: str) -> list:
        values = {s["params"][name] for s in summary}
        return sorted(values, key=lambda v: (isinstance(v, str), v))

    cell = {tuple(s["params"][n] for n in varied): s for s in summary}
    if len(varied) == 1:
        (name,) = varied
        xs = axis_values(name)
        mean = np.array([cell[(x,)]["dev_accuracy_mean"] for x in xs])
        std = np.array([cell[(x,)]["dev_accuracy_std"] for x in xs])
        numeric = all(isinstance(x, int | float) for x in xs)
        where = np.asarray(xs, float) if numeric else np.arange(len(xs))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(where, mean, "o-")
        ax.fill_between(where, mean - std, mean + std, alpha=0.25, label="± 1 std over seeds")
        if numeric and min(xs) > 0 and max(xs) / min(xs) >= 16:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(where, [str(x) for x in xs])
        ax.set_xlabel(name)
        ax.set_ylabel("dev accuracy (mean over seeds)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        rows, cols = axis_values(varied[0]), axis_values(varied[1])
        mean = np.full((len(rows), len(cols)), np.nan)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                if (r, c) in cell:
                    mean[i, j] = cell[(r, c)]["dev_accuracy_mean"]
        fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 3, 0.8 * len(rows) + 2))
        image = ax.imshow(mean, cmap="viridis", aspect="auto")
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                if (r, c) in cell:
                    s = cell[(r, c)]
                    bright = image.norm(s["dev_accuracy_mean"]) > 0.6  # viridis turns yellow
                    ax.text(j, i, f"{s['dev_accuracy_mean']:.3f}\n±{s['dev_accuracy_std']:.3f}",
                            ha="center", va="center", fontsize=8,
                            color="black" if bright else "white")
        ax.set_xticks(range(len(cols)), [str(c) for c in cols])
        ax.set_yticks(range(len(rows)), [str(r) for r in rows])
        ax.set_xlabel(varied[1])
        ax.set_ylabel(varied[0])
        fig.colorbar(image, ax=ax, label="dev accuracy (mean over seeds)")
    fig.tight_layout()
    save_figure(fig, path)


DEFAULT_STUDY = "deepmouse"
"""The Optuna study name when none is given (same name and storage: the same search)."""
STORAGE_ATTEMPTS = 5
"""Tries to open a storage that other workers are creating at the same moment."""
HEARTBEAT_SECONDS = 10
"""How often a tuning worker tells the storage it is alive; a trial silent for three times this
is taken for the trial of a dead worker."""


def default_storage(out: str | Path) -> str:
    return f"sqlite:///{Path(out).resolve() / 'optuna.db'}"


def trial_seeded_sampler(seed: int):
    """Optuna's TPE sampler, with its random draws seeded by ``seed`` and the trial's number.

    A trial's number is unique in its study, so a worker started again after a kill, or a second
    worker, never repeats the draws of another; one worker on a new study gives the same trials
    for the same seed.
    """
    import optuna

    class TrialSeededTPE(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.tpe = optuna.samplers.TPESampler(seed=seed)

        def before_trial(self, study, trial) -> None:
            entropy = np.random.SeedSequence([seed, trial.number]).generate_state(1)[0]
            self.tpe = optuna.samplers.TPESampler(seed=int(entropy))
            self.tpe.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):
            return self.tpe.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self.tpe.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self.tpe.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(self, study, trial, state, values) -> None:
            self.tpe.after_trial(study, trial, state, values)

    return TrialSeededTPE()


def open_study(storage: str, study_name: str = DEFAULT_STUDY, seed: int = 0):
    """Create or continue an Optuna study (maximising dev accuracy) at a storage URL.

    Raises:
        ValueError: a bad URL, a missing database driver or an unreachable server.
    """
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # SQLite serialises writers: two local workers wait for each other instead of failing
    engine = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else None
    from sqlalchemy.exc import DBAPIError, IntegrityError

    attempt = 0
    while True:
        attempt += 1
        rdb = None
        try:
            # heartbeats are marked experimental since Optuna 2.8 without changing; the warning
            # would be noise in every command's output
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = RDBStorage(
                    storage, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=3 * HEARTBEAT_SECONDS,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
            return optuna.create_study(
                study_name=study_name,
                storage=rdb,
                direction="maximize",
                load_if_exists=True,
                sampler=trial_seeded_sampler(seed),
            )
        except Exception as exc:  # bad URL, missing driver, unreachable server
            # workers starting together on a new database race to create its tables and
            # stamp its schema version: the loser finds them made and tries again
            racing = isinstance(exc, IntegrityError) or (
                isinstance(exc, DBAPIError) and "already exists" in str(exc))
            if racing and attempt < STORAGE_ATTEMPTS:
                if rdb is not None:
                    rdb.engine.dispose()
                time.sleep(0.2 * attempt)
                continue
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
        n_trials: finished trials the study should hold; this worker runs trials until it
            does (none if it already does).
        storage: an Optuna storage URL; default SQLite in ``out``. Several workers with one
            PostgreSQL URL and study name search together.
        study: an already opened study (:func:`open_study`); overrides storage/study_name.

    Returns:
        ``{"study", "storage", "family", "fixed_params", "n_trials", "ran_here", "best_params",
        "best_dev_accuracy", "trials"}`` (also written to ``out/tune.json``, which ``deepmouse
        train --params`` reads); ``n_trials`` counts the study's finished trials, ``ran_here``
        lists the numbers of those this call finished, ``trials`` has every finished trial's
        ``number``, ``params``, ``dev_accuracy``, ``dev_loss``, ``best_epoch`` and
        ``seconds`` (of training). The study's figures
        go beside it (:func:`plot_tune`).

    Raises:
        FolderBusyError: another command is writing to ``out``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    prepared = config if isinstance(config, PreparedRun) else prepare_run(config)
    check_search_space(prepared.config.classifier().family_object())
    with folder_lock(out) as out:
        return _tune_into(prepared, n_trials, out, storage, study_name, on_trial, study)


def check_search_space(family) -> None:
    """Raise the family's ValueError if it has no search space, before any study is opened: a
    define-by-run space shows itself only to a trial, so a throwaway in-memory one asks."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    family.search_space(optuna.create_study().ask())


def finished_trials(study) -> int:
    """How many trials of ``study`` have finished (what ``n_trials`` counts)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _tune_into(prepared: PreparedRun, n_trials: int, out: Path, storage: str | None,
               study_name: str, on_trial: Callable[[dict], None] | None, study) -> dict:
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    config = prepared.config
    family = config.classifier().family_object()
    if study is None:
        study = open_study(storage or default_storage(out), study_name, config.seed)
    storage = storage or default_storage(out)

    ran = []

    def objective(trial: optuna.Trial) -> float:
        params = family.search_space(trial)
        result = train_and_score_on_dev(prepared, params, config.seed)
        ran.append(trial.number)
        trial.set_user_attr("dev_loss", result["dev_loss"])
        trial.set_user_attr("best_epoch", result["best_epoch"])
        trial.set_user_attr("seconds", result["seconds"])
        if on_trial is not None:
            on_trial({"number": trial.number, "params": params, **result})
        return result["dev_accuracy"]

    missing = n_trials - finished_trials(study)
    if missing > 0:  # other workers may finish some of them: stop when the study holds n_trials
        # a trial whose training diverges (or scores NaN) fails alone; the study goes on
        study.optimize(objective, n_trials=missing, catch=(ValueError,),
                       callbacks=[MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))])
    if finished_trials(study) == 0:
        raise ValueError(f"no trial of study '{study.study_name}' finished: every one failed "
                         "(a training that diverged or scored NaN)")
    summary = {
        "study": study.study_name,
        "storage": storage,
        "family": family.name,
        "fixed_params": {k: v for k, v in config.params.items() if k != "family"},
        "n_trials": finished_trials(study),
        "ran_here": ran,
        "best_params": study.best_params,
        "best_dev_accuracy": study.best_value,
        "trials": [{"number": t.number, "params": t.params, "dev_accuracy": t.value,
                    **{k: t.user_attrs.get(k) for k in ("dev_loss", "best_epoch", "seconds")}}
                   for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))],
    }
    write_atomic(out / "tune.json", dumps_strict(summary, indent=2) + "\n")
    plot_tune(study, out)
    return summary


def tune_points(study) -> tuple[list[str], np.ndarray, np.ndarray, list[bool]]:
    """The finished trials of ``study`` as arrays: parameter names, positions ``(n, p)`` (log10
    of log-scaled parameters), dev accuracies ``(n,)``, and which parameters are log-scaled."""
    from optuna.distributions import CategoricalDistribution

    trials = [t for t in study.get_trials(deepcopy=False) if t.value is not None]
    names = sorted({n for t in trials for n, d in t.distributions.items()
                    if not isinstance(d, CategoricalDistribution)})
    trials = [t for t in trials if all(n in t.params for n in names)]
    logs = [bool(getattr(trials[0].distributions[n], "log", False)) if trials else False
            for n in names]
    X = np.array([[np.log10(t.params[n]) if log else float(t.params[n])
                   for n, log in zip(names, logs, strict=True)] for t in trials]).reshape(
        len(trials), len(names))
    return names, X, np.array([t.value for t in trials]), logs


def plot_tune(study, out: Path) -> list[Path]:
    """Draw a study: ``tune_history.png`` (dev accuracy per trial and the best so far),
    ``tune_importance.png`` (Optuna's parameter importances) and ``tune_surface.png`` (a
    Gaussian-process fit of dev accuracy over the two most important parameters, its mean and
    its uncertainty side by side, as DeepMouse drew its LSTM size × learning rate). A figure
    the trials cannot support yet (too few, one parameter) is left out. Returns the paths
    written."""
    import optuna

    from deepmouse.plots import plot_importances, plot_surface, plot_trials

    names, X, accuracy, logs = tune_points(study)
    written = []
    every = np.array([t.value for t in study.get_trials(deepcopy=False) if t.value is not None])
    if len(every):
        written.append(plot_trials(every, out / "tune_history.png"))
    importances: dict[str, float] = {}
    if len(accuracy) >= 2 and len(names) >= 2 and np.ptp(accuracy) > 0:
        importances = optuna.importance.get_param_importances(study, params=names)
        written.append(plot_importances(importances, out / "tune_importance.png"))
    if len(accuracy) >= 4 and len(names) >= 2:
        pair = sorted(names, key=lambda n: -importances.get(n, 0.0))[:2]
        columns = [names.index(n) for n in pair]
        labels = [f"log10 {n}" if logs[i] else n for n, i in zip(pair, columns, strict=True)]
        written.append(plot_surface(X[:, columns], accuracy, labels, out / "tune_surface.png"))
    return written
