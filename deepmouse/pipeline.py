"""A training run, end to end: dataset → splits → fit → model file + run folder.

:func:`train_run` is what ``deepmouse train`` and ``deepmouse demo`` call (and what ``sweep`` /
``tune`` build on). The run folder holds:

- ``model.safetensors`` — the model file (:mod:`deepmouse.modelfile`);
- ``history.csv`` — per epoch: train/dev loss and accuracy, seconds;
- ``metrics.json`` — dev and test metrics (the test split's with the sequential decision, whose
  constants are fitted on dev), windows per split, training time, and the provenance the model
  file carries too (dataset checksum, split, seed, versions);
- ``config.json`` — the :class:`RunConfig` that produced it;
- ``data.json`` — what went in: per class minutes, recordings, active share, the sampling of
  each recording, one example window (:func:`deepmouse.inspect_data.data_summary`), so a report
  can describe the data without the dataset at hand;
- ``curves.png``, ``confusion.png``, ``reliability.png`` — learning curves, the test confusion
  matrix and the test reliability diagram (windows as scored and calibrated, the posterior).

The test split is scored once, after training; model selection uses dev only. Every file is
written to a temporary name and renamed, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import csv
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from deepmouse.atomic import folder_lock, staged_files, write_atomic
from deepmouse.classifier import HandClassifier
from deepmouse.decision import DecisionModel, fit_decision_model
from deepmouse.evaluate import evaluate_windows, log_odds
from deepmouse.families import RUNTIME_PARAMETERS
from deepmouse.inspect_data import data_summary
from deepmouse.jsonio import dumps_strict, loads_strict
from deepmouse.modelfile import MODEL_FILE, HandModel, load_model, save_model, versions
from deepmouse.recordings import DataError, Dataset, load_dataset
from deepmouse.windows import SPLITS, Splits, WindowConfig, WindowSet, make_splits

CHECKPOINT_FILE = "checkpoint.safetensors"
RUN_FILES = (MODEL_FILE, "history.csv", "metrics.json", "config.json", "data.json",
             "curves.png", "confusion.png", "reliability.png")
"""Every file a run writes in its folder (a new run replaces all of them)."""


@dataclass
class RunConfig:
    """Everything a training run depends on; the defaults are ``deepmouse train``'s defaults.

    ``params`` are :class:`~deepmouse.classifier.HandClassifier` parameters, the family among
    them (e.g. ``{"family": "lstm", "hidden": 256}``); what is not given takes the family's
    default. ``window``, ``rate`` and ``idle_threshold`` left at ``None`` take
    :class:`~deepmouse.windows.WindowConfig`'s defaults, ``stride`` the family's training
    stride.

    ``init`` names a model file to start from (fine-tuning): the run takes its family,
    parameters, window and normalisation; ``params`` may change the training settings (epochs,
    lr, ...), not the network.
    """

    dataset: str
    out: str = "runs/latest"
    window: int | None = None
    stride: int | None = None
    rate: float | None = None
    idle_threshold: float | None = None
    split: str = SPLITS[0]
    seed: int = 0
    params: dict = field(default_factory=dict)
    init: str | None = None

    def classifier(self) -> HandClassifier:
        """The unfitted estimator of this run."""
        return HandClassifier(**{"seed": self.seed, **self.params})

    def window_config(self) -> WindowConfig:
        """How the dataset becomes windows for this run's model."""
        return self.classifier().window_config(
            window=self.window, rate=self.rate, stride=self.stride,
            idle_threshold=self.idle_threshold,
        )

    def resolved_params(self) -> dict:
        """The classifier parameters of this run, family defaults filled in."""
        return self.classifier().resolved_params()


@dataclass
class RunResult:
    out: Path
    model_path: Path
    metrics: dict
    history: list[dict]
    split_table: dict
    classifier: HandClassifier


def _finished_run(out: Path, config_dict: dict, checksum: str) -> RunResult | None:
    """The run already complete in ``out`` for this very configuration and dataset, or
    ``None``: what ``--resume`` returns, without training again, for a run killed after its
    files were in place."""
    from deepmouse.modelfile import load_model
    from deepmouse.report import read_run

    try:
        run = read_run(out)
        model = load_model(out / MODEL_FILE)
        same = run["config"] == loads_strict(dumps_strict(config_dict))
        if not same or model.provenance.get("dataset_checksum") != checksum:
            return None
        return RunResult(out, out / MODEL_FILE, run["metrics"], run["history"],
                         dict(run["metrics"]["windows"]), model.classifier)
    except (DataError, KeyError, TypeError, ValueError):  # not a whole run: train it again
        return None


def history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    columns = ["epoch", "train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "seconds"]
    writer = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


@dataclass
class PreparedRun:
    """A run's data, checked and split, before any training (``init``: the model a
    fine-tuning run starts from)."""

    config: RunConfig
    dataset: Dataset
    splits: Splits
    warnings: list[str]
    init: HandModel | None = None


def with_init(config: RunConfig) -> tuple[RunConfig, HandModel | None]:
    """``config`` completed from the model it starts from (``config.init``), and that model:
    its family and parameters under the run's own, its window, rate and idle filter.

    Raises:
        ModelFileError: the model file does not load.
        ValueError: a window setting that differs from the model's, or a family that cannot
            start from a trained model.
    """
    if config.init is None:
        return config, None
    model = load_model(config.init)
    family = config.params.get("family", model.classifier.family)
    if family != model.classifier.family:
        raise ValueError(f"--init {config.init} is a {model.classifier.family} model; it "
                         f"cannot start a {family} run")
    saved = model.window_config
    for name in ("window", "rate", "idle_threshold"):
        value = getattr(config, name)
        if value is not None and value != getattr(saved, name):
            raise ValueError(f"--init {config.init} takes {name} {getattr(saved, name):g}; "
                             f"the run cannot change it (got {value:g})")
    inherited = {k: v for k, v in model.classifier.resolved_params().items()
                 if k not in RUNTIME_PARAMETERS}
    fine_tune = model.classifier.family_object().fine_tune_defaults
    params = inherited | fine_tune | {"family": family} | config.params
    params["seed"] = config.seed  # the run's seed, not the one the model was trained with
    completed = replace(config, params=params, window=saved.window, rate=saved.rate,
                        idle_threshold=saved.idle_threshold)
    family_object = completed.classifier().family_object()
    family_object.check_init(model.classifier.resolved_params(), completed.resolved_params())
    return completed, model


def prepare_run(config: RunConfig) -> PreparedRun:
    """Validate parameters, load the dataset and split it (fails fast, before training).

    Raises:
        DataError: bad dataset (see :mod:`deepmouse.recordings`, :mod:`deepmouse.windows`).
        ValueError: bad parameters.
    """
    config, init = with_init(config)
    classifier = config.classifier()
    classifier.check_params()
    classifier.check_window_length(config.window_config().window)
    classifier.check_available()
    dataset = load_dataset(config.dataset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = make_splits(dataset, config.window_config(), config.split, config.seed)
    return PreparedRun(config, dataset, splits, [str(w.message) for w in caught], init)


def train_run(
    config: RunConfig | PreparedRun,
    on_epoch: Callable[[dict], None] | None = None,
    plots: bool = True,
    resume: bool = False,
) -> RunResult:
    """Train one model as ``config`` says and write its run folder.

    While training, ``checkpoint.safetensors`` in the run folder is updated after every epoch;
    with ``resume=True`` an interrupted run continues from it (same result as without the
    interruption). It is removed once the run folder is complete; ``resume=True`` on a run
    folder already complete for the same configuration and dataset returns it as it is.

    Raises:
        DataError: bad dataset (see :mod:`deepmouse.recordings`, :mod:`deepmouse.windows`).
        ValueError: bad parameters.
        FolderBusyError: another command is writing to the same run folder.
    """
    prepared = config if isinstance(config, PreparedRun) else prepare_run(config)
    with folder_lock(prepared.config.out) as out:
        return _train_into(prepared, out, on_epoch, plots, resume)


def remove_checkpoints(out: Path) -> None:
    """Remove the run's checkpoint and those a family wrote beside it (see
    :meth:`deepmouse.families.Family.fit`)."""
    name = Path(CHECKPOINT_FILE)
    for path in [out / CHECKPOINT_FILE, *out.glob(f"{name.stem}.*{name.suffix}")]:
        path.unlink(missing_ok=True)


def fit_dev_decision(clf: HandClassifier, p_dev: np.ndarray, dev: WindowSet) -> DecisionModel:
    """The sequential decision's constants, fitted on the dev windows: held out from training,
    never the test split. ``p_dev`` ``(n,)``: P(left) of each dev window.

    Raises:
        ValueError: dev cannot fit them (see :func:`deepmouse.decision.fit_decision_model`).
    """
    floor = clf.family_object().session_spread
    return fit_decision_model(log_odds(p_dev), dev.y, dev.recording,
                              **({} if floor is None else {"tau2_floor": floor}))


def _train_into(
    prepared: PreparedRun,
    out: Path,
    on_epoch: Callable[[dict], None] | None,
    plots: bool,
    resume: bool,
) -> RunResult:
    config, dataset, splits = prepared.config, prepared.dataset, prepared.splits
    split_warnings = list(prepared.warnings)
    window_config = splits.config
    clf = config.classifier()
    config_dict = asdict(config) | {"family": clf.family,
                                    "resolved_params": clf.resolved_params(),
                                    "window_config": window_config.to_dict()}
    checkpoint = out / CHECKPOINT_FILE
    if not resume:
        remove_checkpoints(out)
    elif not checkpoint.is_file():  # killed after its last checkpoint was removed?
        finished = _finished_run(out, config_dict, dataset.checksum)
        if finished is not None:
            return finished
    start = time.perf_counter()
    clf.fit(splits.train.X, splits.train.y, splits.dev.X, splits.dev.y, on_epoch, checkpoint,
            init=None if prepared.init is None else prepared.init.classifier)
    train_seconds = time.perf_counter() - start

    seconds = window_config.seconds
    p_dev = clf.predict_proba(splits.dev.X)[:, 1]
    dev_metrics = evaluate_windows(p_dev, splits.dev.y, splits.dev.recording, seconds)
    try:
        decision = fit_dev_decision(clf, p_dev, splits.dev)
    except ValueError as exc:
        decision = None
        split_warnings.append(f"no sequential decision: {exc}")
    test_metrics = evaluate_windows(  # the one look at the test split
        clf.predict_proba(splits.test.X)[:, 1], splits.test.y, splits.test.recording, seconds,
        decision,
    )
    provenance = {  # in the model file and in metrics.json (where the report reads it)
        "versions": versions(),
        "dataset": str(dataset.root),
        "dataset_checksum": dataset.checksum,
        "split": config.split,
        "seed": config.seed,
        "dev_recordings": splits.dev_recordings,
        "test_recordings": splits.test_recordings,
        "windows": splits.table(),
        "best_epoch": clf.best_epoch_,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if prepared.init is not None:
        provenance["init"] = {"model": str(config.init),
                              "provenance": prepared.init.provenance}
    metrics = {
        "dev": dev_metrics,
        "test": test_metrics,
        "windows": splits.table(),
        "split": config.split,
        "held_out": splits.held_out,
        "best_epoch": clf.best_epoch_,
        "train_seconds": train_seconds,
        "warnings": split_warnings,
        "decision": None if decision is None else decision.to_dict(),
        "provenance": provenance,
    }
    with staged_files(out, replaces=RUN_FILES) as stage:  # all of the run's files, or none
        save_model(stage / MODEL_FILE, clf, window_config, provenance, decision)
        write_atomic(stage / "history.csv", history_csv(clf.history_))
        write_atomic(stage / "metrics.json", dumps_strict(metrics, indent=2) + "\n")
        write_atomic(stage / "config.json", dumps_strict(config_dict, indent=2) + "\n")
        write_atomic(stage / "data.json",
                     dumps_strict(data_summary(dataset, window_config), indent=2) + "\n")
        if plots:
            from deepmouse.plots import plot_confusion, plot_curves, plot_reliability

            if clf.history_:
                plot_curves(clf.history_, stage / "curves.png", clf.best_epoch_)
            plot_confusion(test_metrics["confusion"], stage / "confusion.png", "test split")
            plot_reliability(test_metrics, stage / "reliability.png", "test split")
    remove_checkpoints(out)
    return RunResult(out, out / MODEL_FILE, metrics, clf.history_, splits.table(), clf)
