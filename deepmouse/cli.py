"""The command line: parses arguments and calls the library, nothing else.

Errors in the user's input (bad files, bad options) print one line on stderr and exit with
status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deepmouse.recordings import DataError

app = typer.Typer(
    help="deepmouse: tell which hand moves the touchpad or mouse from the cursor's position.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Make, download and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)

MODEL_HELP = (
    "Model family: stroke-cnn (the default of train), conv-gru, gru, lstm, svm or rocket "
    "(MiniRocket + ridge; needs deepmouse[rocket])."
)


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr; return the exit-2 exception to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def user_errors(func):
    """Turn bad input (DataError, ValueError, OSError) into one line on stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (DataError, ValueError, FileNotFoundError, NotADirectoryError) as exc:
            text = str(exc).strip()
            raise fail(text.splitlines()[0] if text else repr(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted") from None

    return wrapper


def show_warnings(messages: list[str]) -> None:
    for message in messages:
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def metrics_table(title: str, rows: dict[str, dict]) -> Table:
    """A Rich table of metrics, one column per split/model."""
    table = Table(title=title)
    table.add_column("metric")
    for name in rows:
        table.add_column(name, justify="right")

    def fmt(value) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    for key in ("accuracy", "roc_auc", "loss", "n_windows"):
        table.add_row(key, *(fmt(m.get(key)) for m in rows.values()))
    horizons = next(iter(rows.values()))["decision_accuracy"]
    for h in horizons:
        cells = (fmt(m["decision_accuracy"][h]) for m in rows.values())
        table.add_row(f"decision after {h} s", *cells)
    return table


# --- data -----------------------------------------------------------------------------------
@data_app.command("synth")
@user_errors
def data_synth(
    dest: Annotated[Path, typer.Argument(help="Folder to create (left/ and right/ inside).")],
    minutes: Annotated[float, typer.Option(help="Total minutes, split between the hands.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    sessions: Annotated[int, typer.Option(help="Recording sessions per hand.")] = 1,
) -> None:
    """Write a synthetic dataset from a kinematic model of the hand (not real hands)."""
    from deepmouse.synth import synthesize_dataset

    path = synthesize_dataset(dest, minutes=minutes, seed=seed, sessions=sessions)
    console.print(f"synthetic dataset written to [bold]{path}[/]")


@data_app.command("download")
@user_errors
def data_download(
    name: Annotated[str, typer.Argument(help="deepmouse-touchpad or deepmouse-mouse.")],
    dest: Annotated[Path | None, typer.Option(help="Dataset folder (default: user cache).")] = None,
) -> None:
    """Download a real DeepMouse dataset (checksum-verified; DEEPMOUSE_DATA_MIRROR=DIR for a
    local copy)."""
    from deepmouse.download import download_dataset

    path = download_dataset(name, dest)
    console.print(f"{name}: [bold]{path}[/]")


# --- train / evaluate -----------------------------------------------------------------------
@app.command()
@user_errors
def train(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder with left/ and right/.")],
    out: Annotated[Path, typer.Option(help="Run folder to write.")] = Path("runs/latest"),
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    window: Annotated[int, typer.Option(help="Window length in samples (200 = 2 s).")] = 200,
    stride: Annotated[
        int | None,
        typer.Option(help="Step between train windows (default: window/10 for the default "
                          "model, window for the others)."),
    ] = None,
    split: Annotated[str, typer.Option(help="chrono, session or random.")] = "chrono",
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate.")] = None,
    hidden: Annotated[int | None, typer.Option(help="Recurrent units.")] = None,
    conv_layers: Annotated[
        int | None, typer.Option(help="Conv1D blocks (conv-gru 0-3, stroke-cnn 0-6).")
    ] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout rate.")] = None,
    l1: Annotated[float | None, typer.Option(help="L1 penalty on recurrent weights.")] = None,
    l2: Annotated[float | None, typer.Option(help="L2 penalty on recurrent weights.")] = None,
    augment: Annotated[
        float | None,
        typer.Option(help="Random rotation (radians) and scale of train windows; never mirrors."),
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="Early stopping: epochs without better dev loss.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch (default 1: fastest for these nets).")
    ] = None,
    idle_threshold: Annotated[
        float, typer.Option(help="Per-axis std (px) below which a window is idle.")
    ] = 0.1,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run from its checkpoint in --out.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Train a model and write its run folder (model, history, metrics, plots)."""
    from deepmouse.pipeline import RunConfig

    options = {
        "model": model, "epochs": epochs, "batch_size": batch_size, "lr": lr, "hidden": hidden,
        "conv_layers": conv_layers, "dropout": dropout, "l1": l1, "l2": l2, "augment": augment,
        "patience": patience, "device": device, "threads": threads,
    }
    config = RunConfig(
        dataset=str(dataset), out=str(out), window=window, stride=stride, split=split,
        seed=seed, idle_threshold=idle_threshold,
        params={k: v for k, v in options.items() if v is not None},
    )
    result = run_with_progress(config, quiet=as_json, resume=resume)
    if as_json:
        print(json.dumps(result.metrics))
        return
    show_run(result)


def run_with_progress(config, quiet: bool = False, resume: bool = False):
    """Run :func:`train_run` under a Rich progress bar (epoch, loss, dev accuracy)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepmouse.classifier import ARRAY_FAMILIES
    from deepmouse.pipeline import prepare_run, train_run

    prepared = prepare_run(config)
    show_warnings(prepared.warnings)
    clf = config.classifier()
    total = clf.resolved_params()["epochs"] if clf.model not in ARRAY_FAMILIES else 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=err_console, disable=quiet, transient=False,
        ) as progress:
            task = progress.add_task("train", total=total, status="")

            def on_epoch(row: dict) -> None:
                status = (f"loss {row['train_loss']:.3f}  dev loss {row['dev_loss']:.3f}  "
                          f"dev acc {row['dev_accuracy']:.3f}")
                progress.update(task, completed=row["epoch"], status=status)

            result = train_run(prepared, on_epoch=on_epoch, resume=resume)
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    show_warnings([str(w.message) for w in shown])
    return result


def show_run(result) -> None:
    table = metrics_table(
        f"{result.classifier.model}: dev and test ({result.metrics['split']} split)",
        {"dev": result.metrics["dev"], "test": result.metrics["test"]},
    )
    console.print(table)
    windows = Table(title="active windows per split")
    windows.add_column("split")
    for name in ("right", "left"):
        windows.add_column(name, justify="right")
    for split, counts in result.split_table.items():
        windows.add_row(split, str(counts["right"]), str(counts["left"]))
    console.print(windows)
    console.print(f"training time {result.metrics['train_seconds']:.1f} s, "
                  f"kept epoch {result.metrics['best_epoch']}")
    console.print(f"run folder: [bold]{result.out}[/]")
    for name in ("model.safetensors", "curves.png", "confusion.png"):
        if (result.out / name).exists():
            console.print(f"  {result.out / name}")


@app.command()
@user_errors
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A model.safetensors file.")],
    dataset: Annotated[Path, typer.Argument(help="Dataset folder with left/ and right/.")],
    split: Annotated[
        str,
        typer.Option(help="test/dev/train (the split the model was trained with) or all."),
    ] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Evaluate a model: accuracy, loss, ROC AUC, confusion, decision accuracy over time."""
    from deepmouse.evaluate import evaluate_model
    from deepmouse.modelfile import load_model
    from deepmouse.recordings import load_dataset

    model = load_model(model_path)
    data = load_dataset(dataset, require_both=False)
    metrics = evaluate_model(model, data, split)
    if as_json:
        print(json.dumps(metrics))
        return
    console.print(metrics_table(f"{model_path} on {dataset} ({split})", {split: metrics}))
    cm = metrics["confusion"]
    console.print(f"confusion (rows true right/left, columns predicted right/left): {cm}")


# --- search ---------------------------------------------------------------------------------
@app.command()
@user_errors
def sweep(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder with left/ and right/.")],
    grid: Annotated[
        list[str],
        typer.Option(help="NAME=V1,V2,... e.g. --grid lr=1e-2,1e-3 --grid batch_size=16,32."),
    ],
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds to average over.")] = "0,1,2",
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    window: Annotated[int, typer.Option(help="Window length in samples.")] = 200,
    split: Annotated[str, typer.Option(help="chrono, session or random.")] = "chrono",
    out: Annotated[Path, typer.Option(help="Folder for sweep.csv/json/png.")] = Path("runs/sweep"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Grid sweep averaged over seeds, scored on dev (resumes an interrupted sweep)."""
    from rich.progress import Progress

    from deepmouse.pipeline import RunConfig, prepare_run
    from deepmouse.search import parse_grid
    from deepmouse.search import sweep as run_sweep

    parsed = parse_grid(grid)
    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    params = {k: v for k, v in {"model": model, "epochs": epochs}.items() if v is not None}
    config = prepare_run(RunConfig(dataset=str(dataset), window=window, split=split, params=params))
    n = len(seed_list)
    for values in parsed.values():
        n *= len(values)
    with Progress(console=err_console, disable=as_json) as progress:
        task = progress.add_task("sweep", total=n)
        summary = run_sweep(config, parsed, seed_list, out,
                            on_trial=lambda row: progress.advance(task))
    if as_json:
        print(json.dumps(summary))
        return
    table = Table(title=f"sweep on dev ({split} split), mean ± std over seeds")
    for column in ("params", "dev accuracy", "dev loss", "seeds"):
        table.add_column(column)
    for row in summary:
        table.add_row(json.dumps(row["params"]),
                      f"{row['dev_accuracy_mean']:.3f} ± {row['dev_accuracy_std']:.3f}",
                      f"{row['dev_loss_mean']:.3f}", str(row["n_seeds"]))
    console.print(table)
    console.print(f"results: [bold]{out}[/] (sweep.csv, sweep_history.csv, sweep.png)")


@app.command()
@user_errors
def tune(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder with left/ and right/.")],
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    trials: Annotated[int, typer.Option(help="Trials this worker adds to the study.")] = 20,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per trial.")] = None,
    window: Annotated[int, typer.Option(help="Window length in samples.")] = 200,
    split: Annotated[str, typer.Option(help="chrono, session or random.")] = "chrono",
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL (default sqlite in --out; postgresql://... "
                          "to search with many workers)."),
    ] = None,
    study: Annotated[str, typer.Option(help="Study name (same name + storage continues).")] = (
        "deepmouse"
    ),
    seed: Annotated[int, typer.Option(help="Sampler and training seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for tune.json (and the SQLite file).")] = Path(
        "runs/tune"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Bayesian optimisation (Optuna TPE) of the model's size, learning rate and dropout on dev."""
    from rich.progress import Progress

    from deepmouse.pipeline import RunConfig, prepare_run
    from deepmouse.search import default_storage, open_study
    from deepmouse.search import tune as run_tune

    params = {k: v for k, v in {"model": model, "epochs": epochs}.items() if v is not None}
    config = RunConfig(dataset=str(dataset), window=window, split=split, seed=seed, params=params)
    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    prepared = prepare_run(config)
    storage = storage or default_storage(out)
    out.mkdir(parents=True, exist_ok=True)
    opened = open_study(storage, study, seed)
    with Progress(console=err_console, disable=as_json) as progress:
        task = progress.add_task("tune", total=trials)
        result = run_tune(prepared, trials, out, storage=storage, study=opened,
                          on_trial=lambda row: progress.advance(task))
    if as_json:
        print(json.dumps(result))
        return
    console.print(f"best dev accuracy {result['best_dev_accuracy']:.3f} after "
                  f"{result['n_trials']} trials in study '{study}' ({result['storage']})")
    console.print("best parameters: " + json.dumps(result["best_params"]))
    flags = " ".join(f"--{k.replace('_', '-')} {v:.4g}" if isinstance(v, float)
                     else f"--{k.replace('_', '-')} {v}" for k, v in result["best_params"].items()
                     if k in ("hidden", "lr", "dropout", "conv_layers", "augment"))
    console.print(f"train it: deepmouse train {dataset} --model {result['model']} {flags}")


@app.command()
@user_errors
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders written by deepmouse train.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("runs/report.html"),
    title: Annotated[str, typer.Option(help="Page title.")] = "deepmouse report",
) -> None:
    """One self-contained HTML page comparing run folders (curves, confusion, metrics)."""
    from deepmouse.report import build_report

    path = build_report(runs, out, title)
    console.print(f"report: [bold]{path}[/]")


# --- demo -----------------------------------------------------------------------------------
@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for demo data and run.")] = Path("runs/demo"),
    minutes: Annotated[float, typer.Option(help="Minutes of synthetic data.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Synthesise a dataset, train the default model, evaluate it on the test split."""
    import shutil

    from deepmouse.pipeline import RunConfig
    from deepmouse.synth import synthesize_dataset

    data_dir = out / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    console.print(f"[bold]1/3[/] synthetic dataset ({minutes:g} min, seed {seed}) → {data_dir}")
    synthesize_dataset(data_dir, minutes=minutes, seed=seed)
    console.print("[bold]2/3[/] training the default model (chrono split: first 70% of each "
                  "recording train, next 15% dev, last 15% test)")
    result = run_with_progress(RunConfig(dataset=str(data_dir), out=str(out / "run"), seed=seed))
    console.print("[bold]3/3[/] results (test split touched once, after training)")
    show_run(result)


def register_plugins() -> None:
    """Commands that live in their own modules (record, live, data inspect)."""
    import importlib

    for module in ("deepmouse.record", "deepmouse.live", "deepmouse.inspect_data"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        if hasattr(mod, "register"):
            mod.register(app, data_app)


register_plugins()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="deepmouse")


if __name__ == "__main__":
    sys.exit(main())
