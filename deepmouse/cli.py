"""The command line: parses arguments and calls the library, nothing else.

Errors in the user's input (bad files, bad options, a missing optional package) print one line
on stderr and exit with status 2, never a traceback. Options left out fall through to the
library's defaults, so every default lives in one place.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deepmouse.decision import DEFAULT_THRESHOLD
from deepmouse.families import COMMON_PARAMETERS, DEFAULT_FAMILY, FAMILIES, MissingDependencyError
from deepmouse.jsonio import dumps_strict
from deepmouse.live import DEFAULT_HOP, DEFAULT_SPEED
from deepmouse.pretrained import DEFAULT_POINTER_DEVICE
from deepmouse.recordings import DEFAULT_RATE
from deepmouse.synth import DEFAULT_MINUTES, DEFAULT_SESSIONS
from deepmouse.windows import DEFAULT_IDLE_THRESHOLD, DEFAULT_WINDOW, SPLIT_FRACTIONS, SPLITS

app = typer.Typer(
    help="deepmouse: tell which hand moves the touchpad or mouse from the cursor's position.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Make, download and inspect datasets.", no_args_is_help=True,
                       rich_markup_mode=None)
app.add_typer(data_app, name="data")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _family_help() -> str:
    names = ", ".join(
        f"{name} (needs deepmouse[{family.extra}])" if family.extra else name
        for name, family in FAMILIES.items()
    )
    return f"Model family: {names}. Default: {DEFAULT_FAMILY}."


MODEL_HELP = _family_help()
PARAM_HELP = ("Any parameter of the family as NAME=VALUE, repeatable (e.g. --param C=10 "
              "--param gamma=0.01); the flags above are shortcuts for the common ones.")


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr (markup escaped, whitespace folded); return Exit(2)."""
    err_console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    return typer.Exit(2)


def check_finite(options: dict) -> None:
    """Refuse NaN and infinity in any float option: Click reads ``nan`` and ``inf`` as numbers,
    and a NaN slips through every ``x > 0`` check below."""
    for name, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--{name.replace('_', '-')}: expected a finite number, got {value}")


def user_errors(func: Callable) -> Callable:
    """Turn bad input into one line on stderr and exit status 2: DataError, ValueError,
    OSError (unreadable or unwritable paths), a missing optional package, and a size too big
    for the memory."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            check_finite(kwargs)
            return func(*args, **kwargs)
        except (ValueError, OSError, MissingDependencyError) as exc:
            text = str(exc).strip()
            raise fail(text.splitlines()[0] if text else type(exc).__name__) from None
        except MemoryError as exc:
            raise fail(f"not enough memory: {exc}".rstrip(": ")) from None
        except KeyboardInterrupt:
            raise fail("interrupted") from None

    return wrapper


@contextlib.contextmanager
def naming_model(path: Path) -> Iterator[None]:
    """Put the model file's name in front of a non-finite score's message (the classifier
    that raises it does not know which file it came from)."""
    from deepmouse.classifier import NonFiniteScoreError

    try:
        yield
    except NonFiniteScoreError as exc:
        raise NonFiniteScoreError(f"{path}: {exc}") from None


def show_warnings(messages: list[str]) -> None:
    for message in messages:
        err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def given(**options) -> dict:
    """The options the user gave (``None`` means "not given": the library's default)."""
    return {k: v for k, v in options.items() if v is not None}


def parse_params(items: list[str] | None) -> dict:
    """``["C=10", "gamma=scale"]`` → ``{"C": 10, "gamma": "scale"}`` (numbers parsed)."""
    from deepmouse.search import parse_grid

    params = {}
    for name, values in parse_grid(items or [], option="--param").items():
        if len(values) != 1:
            raise ValueError(f"--param {name}: expected one value, got {len(values)}")
        params[name] = values[0]
    return params


UNDEFINED = "–"
"""How a table shows a metric that has no value (``null`` in JSON)."""


def number(value, spec: str = "g") -> str:
    """A metric as a table shows it: ``spec`` format, :data:`UNDEFINED` for no value."""
    return UNDEFINED if value is None else format(value, spec)


def percent(value) -> str:
    return number(value, ".0%")


def metrics_table(title: str, rows: dict[str, dict]) -> Table:
    """A Rich table of metrics, one column per split/model."""
    table = Table(title=title)
    table.add_column("metric")
    for name in rows:
        table.add_column(name, justify="right")

    def fmt(value) -> str:  # undefined (e.g. ROC AUC of one class) is not zero
        return number(value, ".3f" if isinstance(value, float) else "")

    for key in ("accuracy", "roc_auc", "loss", "ece", "n_windows"):
        table.add_row(key, *(fmt(m.get(key)) for m in rows.values()))
    horizons = next(iter(rows.values()))["decision_accuracy"]
    for h in horizons:
        cells = (fmt(m["decision_accuracy"][h]) for m in rows.values())
        table.add_row(f"mean-rule decision after {h} s", *cells)

    def sequential(key: str, part: str = "sequential") -> list[str]:
        return [fmt(m[part][key]) if part in m else UNDEFINED for m in rows.values()]

    if any("sequential" in m for m in rows.values()):
        threshold = next(m for m in rows.values() if "sequential" in m)["sequential"]["threshold"]
        table.add_row(f"sequential: decided at {threshold:g}", *sequential("decided"))
        table.add_row("sequential: accuracy of decisions", *sequential("accuracy"))
        table.add_row("sequential: median s to decide", *sequential("median_seconds"))
        table.add_row("sequential: ece of the posterior", *sequential("ece"))
        table.add_row("change of hand: followed", *sequential("followed", "switch"))
        table.add_row("change of hand: median s", *sequential("median_seconds", "switch"))
    return table


# --- options shared by several commands ----------------------------------------------------
DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder with left/ and right/.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help=MODEL_HELP)]
EpochsOpt = Annotated[int | None, typer.Option(help="Training epochs (network families).")]
WindowOpt = Annotated[
    int | None, typer.Option(help=f"Window length in steps (default {DEFAULT_WINDOW}).")
]
SplitOpt = Annotated[
    str | None, typer.Option(help=f"{', '.join(SPLITS)} (default {SPLITS[0]}).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


# --- data -----------------------------------------------------------------------------------
@data_app.command("synth")
@user_errors
def data_synth(
    dest: Annotated[Path, typer.Argument(help="Folder to create (left/ and right/ inside).")],
    minutes: Annotated[float | None, typer.Option(
        help=f"Total minutes, split between the hands (default {DEFAULT_MINUTES:g}).")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Random seed (same seed, same files).")] = None,
    sessions: Annotated[int | None, typer.Option(
        help=f"Recording sessions per hand (default {DEFAULT_SESSIONS}).")] = None,
) -> None:
    """Write a synthetic dataset from a kinematic model of the hand (not real hands)."""
    from deepmouse.synth import synthesize_dataset

    path = synthesize_dataset(dest, **given(minutes=minutes, seed=seed, sessions=sessions))
    console.print(f"synthetic dataset written to [bold]{escape(str(path))}[/]")


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
    console.print(f"{escape(name)}: [bold]{escape(str(path))}[/]")


@data_app.command("inspect")
@user_errors
def data_inspect(
    dataset: Annotated[Path, typer.Argument(
        help="Dataset folder with left/ and right/ (one may be missing).")],
    out: Annotated[Path | None, typer.Option(
        help="Folder for the PNG figures (default: DATASET/inspect).")] = None,
    window: WindowOpt = None,
    rate: Annotated[float | None, typer.Option(
        help=f"Resampling rate in Hz (default {DEFAULT_RATE:g}).")] = None,
    idle_threshold: Annotated[float | None, typer.Option(
        help="Minimum per-axis movement std (px/step) of an active window "
             f"(default {DEFAULT_IDLE_THRESHOLD:g}).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Summarise a dataset and draw its figures.

    Per class: recordings, minutes, active fraction, windows per split (chrono). Figures:
    sampling-interval stability over time, one example window, and the movement-amplitude
    histogram before and after idle filtering and normalisation.
    """
    from deepmouse import inspect_data
    from deepmouse.windows import WindowConfig

    config = WindowConfig(**given(window=window, rate=rate, idle_threshold=idle_threshold))
    report = inspect_data.inspect_dataset(dataset, config=config, out=out)
    if as_json:
        print(dumps_strict(report.to_dict()))
    else:
        inspect_data.print_report(report)


# --- record / live --------------------------------------------------------------------------
@contextlib.contextmanager
def _record_progress(
    seconds: float | None, enabled: bool, active, before: float
) -> Iterator[Callable[[float, float, float], None] | None]:
    """A transient progress line on a terminal (elapsed time, seconds of movement, what a first
    model still needs); else nothing.

    Yields the ``on_sample`` callback for :func:`deepmouse.record.record`: it only updates a
    few fields; Rich redraws twice a second from its own thread. ``active`` is the recorder's
    :class:`~deepmouse.record.ActiveClock`, ``before`` the seconds of movement of this hand
    already in the dataset.
    """
    if not enabled or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from deepmouse.record import FIRST_MODEL_MINUTES

    columns = [TextColumn("recording"), TimeElapsedColumn(),
               TextColumn("movement {task.fields[moved]}"), TextColumn("{task.fields[goal]}")]
    if seconds:
        columns.insert(1, BarColumn())
    goal = FIRST_MODEL_MINUTES * 60

    def fields() -> dict:
        total = before + active.seconds
        status = ("[green]enough for a first model[/]" if total >= goal else
                  f"{minutes(goal - total)} more for a first model")
        return {"moved": f"{minutes(active.seconds)} (this hand in all: {minutes(total)})",
                "goal": status}

    with Progress(*columns, console=err_console, transient=True,
                  refresh_per_second=2) as progress:
        task_id = progress.add_task("record", total=seconds, **fields())
        task = next(t for t in progress.tasks if t.id == task_id)
        shown = [active.seconds]

        def on_sample(t: float, x: float, y: float) -> None:
            task.completed = t  # plain attribute writes: no lock, no redraw here
            if active.seconds != shown[0]:  # a window just completed
                shown[0] = active.seconds
                task.fields.update(fields())

        yield on_sample


def minutes(seconds: float) -> str:
    """``m:ss`` of a number of seconds."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


@app.command()
@user_errors
def record(
    dataset: Annotated[Path, typer.Argument(
        help="Dataset folder; the file goes into DATASET/<hand>/<UTC time>.csv.")],
    hand: Annotated[str, typer.Option(help="Which hand moves the pointer: left or right.")],
    seconds: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: until Ctrl-C).")] = None,
    rate: Annotated[float | None, typer.Option(
        help=f"Polling rate in Hz (default {DEFAULT_RATE:g}).")] = None,
    device: Annotated[str | None, typer.Option(
        help="touchpad or mouse; noted in DATASET/dataset.json.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Record the cursor position of one hand into a dataset.

    Move the pointer with that hand as you usually do (browse, play, draw): only movement
    counts, and the progress line shows how much of it the dataset holds of each hand and how
    much more a first model needs. Polls the pointer at a fixed rate on a monotonic clock and
    writes t,x,y lines (t seconds since start, x,y screen pixels). Data reach the disk at least
    every second; Ctrl-C or SIGTERM end with a complete file and a summary (samples, achieved
    rate, interval mean/std/p99, delay spikes, seconds of movement). Never overwrites a file.
    """
    from deepmouse.pointer import pointer
    from deepmouse.record import FIRST_MODEL_MINUTES, ActiveClock, check_arguments, recorded_seconds
    from deepmouse.record import record as record_pointer

    options = given(seconds=seconds, rate=rate, device=device)
    check_arguments(dataset, hand, **options)
    position = pointer()
    before = recorded_seconds(dataset)
    active = ActiveClock.for_rate(rate or DEFAULT_RATE)
    if not as_json:
        limit = f"for {seconds:g} s" if seconds else "until Ctrl-C"
        err_console.print(
            f"recording the [bold]{hand}[/] hand at {rate or DEFAULT_RATE:g} Hz {limit}: move "
            f"the pointer with your {hand} hand as you usually do. Only movement counts; a first "
            f"model needs about {FIRST_MODEL_MINUTES:g} minutes of each hand (the dataset holds "
            f"{minutes(before['right'])} of the right, {minutes(before['left'])} of the left).")
    with _record_progress(seconds, not as_json, active, before[hand]) as on_sample:
        summary = record_pointer(dataset, hand, position=position, on_sample=on_sample,
                                 active=active, **options)
    if as_json:
        print(dumps_strict(summary.to_dict()))
        return
    for line in summary.lines():
        print(line)
    if summary.samples < 2:
        show_warnings(["fewer than 2 samples: the file will not load"])
    print(next_step(dataset, before | {hand: before[hand] + summary.active_seconds}))


def next_step(dataset: Path, moved: dict[str, float]) -> str:
    """What to do after a recording, from the seconds of movement per hand in the dataset."""
    from deepmouse.record import FIRST_MODEL_MINUTES

    goal = FIRST_MODEL_MINUTES * 60
    short = [hand for hand in ("right", "left") if moved[hand] < goal]
    held = ", ".join(f"{minutes(moved[hand])} of the {hand} hand" for hand in ("right", "left"))
    if short:
        needs = " and ".join(f"{minutes(goal - moved[hand])} more of the {hand} hand"
                             for hand in short)
        return f"movement in {dataset}: {held}; a first model needs {needs}"
    return (f"movement in {dataset}: {held}: enough for a first model: deepmouse train "
            f"{dataset} --init {DEFAULT_POINTER_DEVICE}")


@app.command()
@user_errors
def live(
    model: Annotated[Path | None, typer.Argument(
        help="Model file (model.safetensors) or a run folder holding one (default: the model "
             "for --device trained on the DeepMouse recordings, built on first use and "
             "cached; see deepmouse models).", show_default=False)] = None,
    device: Annotated[str, typer.Option(
        help="Without MODEL: which pointing device's model to use, mouse or touchpad.")]
        = DEFAULT_POINTER_DEVICE,
    seconds: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: until Ctrl-C or, with --replay, the end "
             "of the file).")] = None,
    replay: Annotated[Path | None, typer.Option(
        help="Drive the predictor from this recording instead of the live cursor.")] = None,
    speed: Annotated[float | None, typer.Option(
        help=f"Replay speed: 1 = real time, 10 = ten times faster, 0 = as fast as possible "
             f"(default {DEFAULT_SPEED:g}).")] = None,
    hop: Annotated[float | None, typer.Option(
        help=f"Seconds between updates (default {DEFAULT_HOP:g}).")] = None,
    json_lines: Annotated[bool, typer.Option(
        "--json-lines", help="Print one JSON object per update instead of the live "
                             "display.")] = False,
    threshold: Annotated[float | None, typer.Option(
        help=f"P(hand) at which to decide (default {DEFAULT_THRESHOLD:g}).")] = None,
) -> None:
    """Tell live which hand moves the pointer.

    Polls the cursor at the model's rate, keeps a sliding window, and every --hop seconds
    shows the current window's P(left) (idle windows are skipped, not guessed) and the
    posterior over all active windows so far: undecided until P(hand) reaches --threshold,
    then the hand and the seconds of movement it took; a change of hand is followed.
    """
    from deepmouse.live import run_live

    if model is None:
        model = pretrained_model(device)
    with naming_model(model):
        run_live(model, seconds=seconds, replay=replay, json_lines=json_lines,
                 **given(speed=speed, hop=hop, threshold=threshold))


def starting_model(name: str) -> Path:
    """The model file ``train --init`` names: a pointing device's cached model (built if
    missing) for ``mouse`` / ``touchpad`` unless a file of that name exists, else a model file
    or run folder."""
    from deepmouse.live import model_path
    from deepmouse.pretrained import POINTER_DEVICES

    if name in POINTER_DEVICES and not Path(name).exists():
        return pretrained_model(name)
    return model_path(name)


def pretrained_model(device: str) -> Path:
    """The cached model of ``device``, built first (download, progress bar) if missing."""
    from deepmouse.pretrained import ensure_model

    return ensure_model(device, train=run_with_progress,
                        on_stage=lambda line: err_console.print(escape(line)))


@app.command()
@user_errors
def models(
    build: Annotated[list[str] | None, typer.Option(
        help="Build (download and train) the model of this pointing device now if it is not "
             "cached: mouse or touchpad; may repeat.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the model cards as a JSON list.")] = False,
) -> None:
    """List the cached models, each with its model card.

    These are the models deepmouse live uses without a model file: the default family trained
    on the public DeepMouse recordings, one per pointing device, with the figures they reached
    on recordings they never trained on.
    """
    from deepmouse.pretrained import check_device, list_models, models_dir

    for device in build or []:
        check_device(device)
    for device in build or []:
        pretrained_model(device)
    cards = list_models()
    if as_json:
        print(dumps_strict(cards))
        return
    if not cards:
        console.print(f"no cached model in {escape(str(models_dir()))}: deepmouse live builds "
                      "one on first use, or run deepmouse models --build mouse")
        return
    for card in cards:
        console.print(model_card_panel(card))


def model_card_panel(card: dict):
    """A Rich panel of one model card (see :func:`deepmouse.pretrained.model_card`)."""
    from rich.panel import Panel

    data, held_out = card["data"], card["held_out"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("model", escape(card["model"]))
    grid.add_row("family", escape(str(card["family"])))
    grid.add_row("whose hands", escape(card["whose_hands"]))
    grid.add_row("data", ", ".join(
        f"{name} {data['minutes'][name]:g} min in {data['sessions'][name]} session(s)"
        for name in ("right", "left")) + f" ({escape(data['dataset'])})")
    tested = ", ".join(held_out.get("test_recordings") or []) or "the last 15% of each recording"
    grid.add_row("held out", escape(f"{held_out['split']} split, tested on {tested}"))
    grid.add_row("one window", f"accuracy {percent(held_out['window_accuracy'])}, "
                               f"ROC AUC {number(held_out['roc_auc'], '.2f')}")
    right = percent(held_out["right_when_decided"])
    grid.add_row("decision", (
        f"made in {percent(held_out['decided'])} of trials at P ≥ "
        f"{number(held_out['decision_threshold'])}, right {right} of the time, median "
        f"{number(held_out['median_seconds_to_decide'])} s of movement"))
    grid.add_row("advice", escape(card["advice"]))
    return Panel(grid, title=f"{card['device']} model", title_align="left")


# --- train / evaluate -----------------------------------------------------------------------
@app.command()
@user_errors
def train(
    dataset: DatasetArg,
    out: Annotated[Path | None, typer.Option(
        help="Run folder to write (default runs/latest).")] = None,
    model: ModelOpt = None,
    window: WindowOpt = None,
    stride: Annotated[int | None, typer.Option(
        help="Step between train windows (default: the family's training stride).")] = None,
    split: SplitOpt = None,
    epochs: EpochsOpt = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate.")] = None,
    hidden: Annotated[int | None, typer.Option(
        help="Units of a network: recurrent units, or channels of a CNN.")] = None,
    conv_layers: Annotated[int | None, typer.Option(
        help="Conv1D blocks of a network.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout rate.")] = None,
    l1: Annotated[float | None, typer.Option(help="L1 penalty on recurrent weights.")] = None,
    l2: Annotated[float | None, typer.Option(help="L2 penalty on recurrent weights.")] = None,
    augment: Annotated[float | None, typer.Option(
        help="Random rotation (radians) and scale of train windows; never mirrors.")] = None,
    patience: Annotated[int | None, typer.Option(
        help="Early stopping: epochs without better dev loss.")] = None,
    param: Annotated[list[str] | None, typer.Option(help=PARAM_HELP)] = None,
    params_file: Annotated[Path | None, typer.Option(
        "--params", help="JSON file of parameters: the tune.json of deepmouse tune (its family "
                         "and best parameters) or an object of NAME: value; options given "
                         "beside it take precedence.")] = None,
    seed: Annotated[int | None, typer.Option(
        help=f"Random seed (default {COMMON_PARAMETERS['seed']}).")] = None,
    device: Annotated[str | None, typer.Option(
        help="auto, cpu or cuda (networks; default: the family's).")] = None,
    threads: Annotated[int | None, typer.Option(
        help="CPU threads for torch (networks; default: the family's).")] = None,
    idle_threshold: Annotated[float | None, typer.Option(
        help="Per-axis std (px) below which a window is idle "
             f"(default {DEFAULT_IDLE_THRESHOLD:g}).")] = None,
    resume: Annotated[bool, typer.Option(
        help="Continue an interrupted run from its checkpoint in --out.")] = False,
    init: Annotated[str | None, typer.Option(
        help="Start from this trained model and fine-tune it on DATASET: a model file, a run "
             "folder, or mouse / touchpad for the model deepmouse live uses out of the box. "
             "The run keeps its family, network, window and normalisation; training options "
             "(--epochs, --lr, ...) apply.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Train a model and write its run folder (model, history, metrics, plots)."""
    from deepmouse.pipeline import RunConfig
    from deepmouse.search import read_params_file

    from_file = read_params_file(params_file) if params_file is not None else {}
    if model is not None and from_file.get("family", model) != model:
        raise ValueError(f"--model {model}, but {params_file} holds parameters of the "
                         f"{from_file['family']} family")
    params = from_file | parse_params(param) | given(
        family=model, epochs=epochs, batch_size=batch_size, lr=lr, hidden=hidden,
        conv_layers=conv_layers, dropout=dropout, l1=l1, l2=l2, augment=augment,
        patience=patience, device=device, threads=threads,
    )
    config = RunConfig(
        dataset=str(dataset), params=params,
        **given(out=out and str(out), window=window, stride=stride, split=split, seed=seed,
                idle_threshold=idle_threshold, init=init and str(starting_model(init))),
    )
    result = run_with_progress(config, quiet=as_json, resume=resume)
    if as_json:
        print(dumps_strict(result.metrics))
        return
    show_run(result)


def run_with_progress(config, quiet: bool = False, resume: bool = False):
    """Run :func:`~deepmouse.pipeline.train_run` under a Rich progress bar (epoch, loss, dev
    accuracy)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepmouse.pipeline import prepare_run, train_run

    prepared = prepare_run(config)
    show_warnings(prepared.warnings)
    clf = prepared.config.classifier()  # completed from the model it starts from, if any
    total = clf.family_object().progress_total(clf.resolved_params())
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
            progress.update(task, completed=total)
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    show_warnings([str(w.message) for w in shown])
    return result


def show_run(result) -> None:
    table = metrics_table(
        f"{result.classifier.family}: dev and test ({result.metrics['split']} split)",
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
    console.print(f"run folder: [bold]{escape(str(result.out))}[/]")
    for name in ("model.safetensors", "curves.png", "confusion.png"):
        if (result.out / name).exists():
            console.print(f"  {escape(str(result.out / name))}")


@app.command()
@user_errors
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A model.safetensors file.")],
    dataset: DatasetArg,
    split: Annotated[str | None, typer.Option(
        help="test (the default), dev or train of the split the model was trained with, or "
             "all.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="P(hand) at which the sequential decision decides (default: the model's, "
             f"{DEFAULT_THRESHOLD:g}).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Evaluate a model: accuracy, loss, ROC AUC, confusion, decision accuracy over time."""
    from deepmouse.evaluate import evaluate_model
    from deepmouse.modelfile import load_model
    from deepmouse.recordings import load_dataset

    model = load_model(model_path)
    data = load_dataset(dataset, require_both=False)
    if threshold is not None and not 0.5 < threshold < 1:
        raise ValueError(f"--threshold must be in (0.5, 1), got {threshold:g}")
    with naming_model(model_path):
        metrics = evaluate_model(model, data, **given(split=split, threshold=threshold))
    if as_json:
        print(dumps_strict(metrics))
        return
    name = metrics["split"]
    console.print(metrics_table(escape(f"{model_path} on {dataset} ({name})"), {name: metrics}))
    cm = metrics["confusion"]
    console.print(f"confusion (rows true right/left, columns predicted right/left): {cm}")


# --- search ---------------------------------------------------------------------------------
@app.command()
@user_errors
def sweep(
    dataset: DatasetArg,
    grid: Annotated[list[str], typer.Option(
        help="NAME=V1,V2,... e.g. --grid lr=1e-2,1e-3 --grid batch_size=16,32.")],
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds to average over.")] = "0,1,2",
    model: ModelOpt = None,
    epochs: EpochsOpt = None,
    window: WindowOpt = None,
    split: SplitOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for sweep.csv/json/png.")] = Path("runs/sweep"),
    as_json: JsonOpt = False,
) -> None:
    """Grid sweep averaged over seeds, scored on dev (resumes an interrupted sweep)."""
    from rich.progress import Progress

    from deepmouse.pipeline import RunConfig, prepare_run
    from deepmouse.search import parse_grid
    from deepmouse.search import sweep as run_sweep

    parsed = parse_grid(grid)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds: expected comma-separated integers, got {seeds!r}") from None
    config = prepare_run(RunConfig(dataset=str(dataset), params=given(family=model, epochs=epochs),
                                   **given(window=window, split=split)))
    n = len(seed_list)
    for values in parsed.values():
        n *= len(values)
    with Progress(console=err_console, disable=as_json) as progress:
        task = progress.add_task("sweep", total=n)
        summary = run_sweep(config, parsed, seed_list, out,
                            on_trial=lambda row: progress.advance(task))
    if as_json:
        print(dumps_strict(summary))
        return
    table = Table(title=f"sweep on dev ({config.config.split} split), mean ± std over seeds")
    for column in ("params", "dev accuracy", "dev loss", "seeds"):
        table.add_column(column)
    for row in summary:
        table.add_row(escape(dumps_strict(row["params"])),
                      f"{row['dev_accuracy_mean']:.3f} ± {row['dev_accuracy_std']:.3f}",
                      f"{row['dev_loss_mean']:.3f}", str(row["n_seeds"]))
    console.print(table)
    console.print(f"results: [bold]{escape(str(out))}[/] (sweep.csv, sweep_history.csv, "
                  "sweep.png)")


@app.command()
@user_errors
def tune(
    dataset: DatasetArg,
    model: ModelOpt = None,
    trials: Annotated[int, typer.Option(
        help="Finished trials the study should hold; a restarted or second worker runs only "
             "the missing ones.")] = 20,
    epochs: EpochsOpt = None,
    window: WindowOpt = None,
    split: SplitOpt = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL (default sqlite in --out; postgresql://... to search with "
             "many workers).")] = None,
    study: Annotated[str | None, typer.Option(
        help="Study name (same name + storage continues).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler and training seed.")] = None,
    out: Annotated[Path, typer.Option(
        help="Folder for tune.json (and the SQLite file).")] = Path("runs/tune"),
    as_json: JsonOpt = False,
) -> None:
    """Bayesian optimisation (Optuna TPE) of the family's search space, scored on dev."""
    from rich.progress import Progress

    from deepmouse.pipeline import RunConfig, prepare_run
    from deepmouse.search import check_search_space, default_storage, finished_trials, open_study
    from deepmouse.search import tune as run_tune

    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    config = RunConfig(dataset=str(dataset), params=given(family=model, epochs=epochs),
                       **given(window=window, split=split, seed=seed))
    prepared = prepare_run(config)
    check_search_space(prepared.config.classifier().family_object())
    if storage is None:
        storage = default_storage(out)
        out.mkdir(parents=True, exist_ok=True)  # the default SQLite file lives there
    opened = open_study(storage, seed=config.seed, **given(study_name=study))
    with Progress(console=err_console, disable=as_json) as progress:
        task = progress.add_task("tune", total=trials,
                                 completed=min(trials, finished_trials(opened)))
        result = run_tune(prepared, trials, out, storage=storage, study=opened,
                          on_trial=lambda row: progress.advance(task))
    if as_json:
        print(dumps_strict(result))
        return
    console.print(f"best dev accuracy {result['best_dev_accuracy']:.3f} after "
                  f"{result['n_trials']} trials in study '{escape(result['study'])}' "
                  f"({escape(result['storage'])})")
    console.print("best parameters: " + escape(dumps_strict(result["best_params"])))
    console.print(escape(f"train it: deepmouse train {dataset} --params {out / 'tune.json'}"))


# --- report / demo --------------------------------------------------------------------------
@app.command()
@user_errors
def report(
    folders: Annotated[list[Path], typer.Argument(
        metavar="RUN|SWEEP|TUNE...",
        help="Run folders (deepmouse train), sweep folders (deepmouse sweep) and tune folders "
             "(deepmouse tune), in the order the page shows them.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("runs/report.html"),
    title: Annotated[str | None, typer.Option(
        help="Page title (default: deepmouse report).")] = None,
) -> None:
    """One self-contained HTML page (figures embedded, nothing fetched from the network): per
    run the data that went in, learning curves, confusion, ROC, decision over seconds of
    movement, calibration, configuration and provenance; sweep and tune tables and figures."""
    from deepmouse.report import build_report

    path = build_report(folders, out, **given(title=title))
    console.print(f"report: [bold]{escape(str(path))}[/]")


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for demo data and run.")] = Path("runs/demo"),
    minutes: Annotated[float | None, typer.Option(
        help=f"Minutes of synthetic data (default {DEFAULT_MINUTES:g}).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Synthesise a dataset, train the default model, evaluate it on the test split, and write
    the run's report (OUT/report.html)."""
    import shutil

    from deepmouse.pipeline import RunConfig
    from deepmouse.recordings import read_dataset_info
    from deepmouse.report import build_report
    from deepmouse.synth import synthesize_dataset

    data_dir = out / "data"
    if data_dir.exists():  # replace only what an earlier demo wrote, never the user's data
        if not data_dir.is_dir() or read_dataset_info(data_dir).get("synthetic") is not True:
            raise ValueError(f"{data_dir}: exists and is not a synthetic dataset; choose "
                             "another --out")
        shutil.rmtree(data_dir)
    synth_options = given(minutes=minutes, seed=seed)
    console.print(f"[bold]1/3[/] synthetic dataset → {escape(str(data_dir))}")
    synthesize_dataset(data_dir, **synth_options)
    train_share, dev_share, test_share = SPLIT_FRACTIONS
    console.print(f"[bold]2/3[/] training the default model (chrono split: first "
                  f"{train_share:.0%} of each recording train, next {dev_share:.0%} dev, last "
                  f"{test_share:.0%} test)")
    result = run_with_progress(RunConfig(dataset=str(data_dir), out=str(out / "run"),
                                         **given(seed=seed)))
    console.print("[bold]3/3[/] results (test split touched once, after training)")
    show_run(result)
    report_path = build_report([result.out], out / "report.html", title="deepmouse demo")
    console.print(f"report: [bold]{escape(str(report_path))}[/]")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="deepmouse")


if __name__ == "__main__":
    sys.exit(main())
