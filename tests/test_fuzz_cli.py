"""Property-based fuzzing of the command line's argument handling and of grid specifications.

Whatever the arguments, a command ends with status 0, or 2 and a short message on stderr
naming the problem (ours: ``error: ...``; Click's usage errors: ``Error: ...``), never a
traceback. The commands are read from the Typer app, so a new command or option is fuzzed
without touching this file.

Arguments are junk (paths that do not exist, files and folders of junk) or real: a tiny
synthetic dataset, a tiny model and its run folder. No example may start real work: tripwires
stop a command where the work would begin (fitting a model, drawing a synthetic recording,
reading the pointer, streaming a replay, scoring a split, drawing a dataset's figures) and that
counts as a valid command line, checked up to there. ``data download`` reads an empty local
mirror, and everything happens in a scratch folder, rebuilt before every example, that is also
the working directory; a folder removed outside it (temporary folders aside) fails the
example.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import shutil
import tempfile
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from conftest import cli
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deepmouse.search import parse_grid

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
"""Derandomized: the same examples every run (a fuzz failure is reproducible, not flaky)."""

# --- the command tree, from the Typer app ---------------------------------------------------


def _commands() -> dict[tuple[str, ...], object]:
    """Every leaf command by its path (``("data", "synth")``) → its Click command."""
    import typer.main

    from deepmouse.cli import app

    found: dict[tuple[str, ...], object] = {}

    def walk(command, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        else:
            found[path] = command

    walk(typer.main.get_command(app), ())
    return found


def _kind(annotation) -> type:
    """What an option's value is (int, float, bool, Path, str), from its type hint."""
    options = typing.get_args(annotation) or (annotation,)
    return next((k for k in (bool, int, float, Path) if k in options), str)


def _options(command) -> list[tuple[str, type]]:
    """Every option string of ``command`` with the kind of value it takes."""
    hints = typing.get_type_hints(inspect.unwrap(command.callback))
    return [(opt, _kind(hints.get(p.name, str)))
            for p in command.params if p.param_type_name == "option" for opt in p.opts]


COMMANDS = _commands()
OPTIONS = {path: _options(command) for path, command in COMMANDS.items()}
ARGUMENTS = {path: [p.name for p in command.params if p.param_type_name == "argument"]
             for path, command in COMMANDS.items()}
ALL_OPTIONS = sorted({opt for options in OPTIONS.values() for opt, _ in options})

# --- the values -----------------------------------------------------------------------------

INTEGERS = ["0", "1", "-1", "2", "3", "8", "200", "1000", "9" * 30, "-" + "9" * 30,
            str(2**32), str(2**63), str(2**64 + 1), "1_000", " 3 ", "0x10"]
FLOATS = ["0", "0.5", "0.96", "1", "-1", "1e-3", "-0.0", "1e-300", "1e300", "-1e300", "1e400",
          "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e", "3.", ".5", "1,2"]
NUMBERS = INTEGERS + FLOATS
WORDS = ["", " ", "abc", "gru", "svm", "stroke-cnn", "rocket", "ensemble", "lstm", "chrono",
         "session", "train", "dev", "test", "all", "left", "right", "touchpad", "mouse", "cpu",
         "cuda", "auto", "deepmouse-touchpad", "deepmouse-mouse", "sqlite://", "postgresql://x",
         "lr=1e-3,1e-4", "hidden=8", "C=10", "=", "x=", "lr=nan", "lr=1,1", "a b=1",
         "hidden=1e3", "--", "-", "[red]markup[/]", "\udcff", "caf\udce9", "é", "日本語"]
JUNK_PATHS = ["missing", "missing/deeper/x.csv", "junk.txt", "binary.bin", "empty_dir",
              "junk_dataset", "junk_dataset/left", "[weird] ü", "caf\udce9.csv", "", "."]
"""Relative to the scratch folder; none of them is a dataset, a model or a run folder."""
DATASET, RUN = "dataset", "run"
MODEL, RECORDING = f"{RUN}/model.safetensors", f"{DATASET}/left/session1.csv"
"""The real things, copied into the scratch folder for every example."""
POSITIONAL_VALUES = {"dataset": [DATASET], "dest": [DATASET], "model": [MODEL, RUN],
                     "model_path": [MODEL, RUN], "runs": [RUN],
                     "name": ["deepmouse-touchpad", "deepmouse-mouse", "nope"]}
"""Real values an argument may take besides the junk, by the argument's name."""

text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
               max_size=12)
values = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(WORDS),
                   st.sampled_from([*JUNK_PATHS, RECORDING]),
                   text.filter(lambda v: not v.startswith(("/", "~")) and ".." not in v),
                   st.integers(-(2**70), 2**70).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
"""Option values; never a path outside the scratch folder (some commands write to theirs)."""
VALUES_OF = {
    int: st.one_of(st.sampled_from(INTEGERS), st.integers(-(2**70), 2**70).map(str)),
    float: st.one_of(st.sampled_from(FLOATS),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr)),
    Path: st.sampled_from([*JUNK_PATHS, "new_folder", "new_folder/deeper", RECORDING]),
    str: st.sampled_from(WORDS),
}
"""Values of the kind an option takes: most lines get past Click to our own checks."""


def misspell(option: str, draw) -> str:
    """One typical slip: a letter lost, doubled or swapped, ``_`` for ``-``, one dash, case."""
    body = option[2:]
    i = draw(st.integers(0, max(0, len(body) - 1)))
    slips = [body[:i] + body[i + 1:], body[:i] + body[i:i + 1] * 2 + body[i + 1:],
             body[:i] + body[i + 1:i + 2] + body[i:i + 1] + body[i + 2:],
             body.replace("-", "_"), body.upper()]
    slip = draw(st.sampled_from(slips))
    return draw(st.sampled_from(["--", "-"])) + slip


@st.composite
def argvs(draw) -> list[str]:
    """A command line: a command (sometimes misspelt), junk or real positionals (sometimes one
    too few or too many), the command's own, foreign and misspelt options with values of their
    kind or of any kind (sometimes as ``--name=value``), in order or shuffled."""
    path = draw(st.sampled_from(sorted(COMMANDS)))
    argv = list(path)
    if draw(st.integers(0, 19)) == 0:  # a misspelt command
        argv[-1] = misspell("--" + argv[-1], draw).lstrip("-") or "x"
    names = ARGUMENTS[path]
    names = draw(st.sampled_from([names, names, names, names[:-1], [*names, "extra"]]))
    tokens = [draw(st.sampled_from(JUNK_PATHS + POSITIONAL_VALUES.get(name, [])))
              for name in names]
    own = OPTIONS[path]
    for _ in range(draw(st.integers(0, 4))):
        which = draw(st.integers(0, 9))
        if which <= 6 and own:
            option, kind = draw(st.sampled_from(own))
        elif which <= 8:
            option, kind = misspell(draw(st.sampled_from(ALL_OPTIONS)), draw), str
        else:
            option, kind = draw(st.sampled_from(ALL_OPTIONS)), str
        if kind is bool:
            tokens.append(option)
            continue
        value = draw(VALUES_OF[kind] if draw(st.integers(0, 3)) else values)
        tokens += [option, value] if draw(st.booleans()) else [f"{option}={value}"]
    if draw(st.integers(0, 49)) == 0:
        tokens.append(draw(st.sampled_from(["--help", "-h"])))
    argv += draw(st.permutations(tokens)) if draw(st.booleans()) else tokens
    return argv


# --- the scratch folder ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    root: Path
    """The working directory of every example, rebuilt before each."""
    real: Path
    """The real dataset and run folder, copied into ``root``."""


def make_scratch(root: Path, real: Path) -> None:
    """Rebuild ``root``: the junk, and fresh copies of the real dataset and run folder from
    ``real`` (a command may create or change files before it fails; the next example must not
    see them)."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(real, root)
    (root / "junk.txt").write_text("this is not a recording\n1,2,3\n")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (root / "caf\udce9.csv").write_bytes(b"\xff\xfe\x00not utf-8\n")
    (root / "empty_dir").mkdir()
    (root / "mirror").mkdir()
    for hand in ("left", "right"):
        (root / "junk_dataset" / hand).mkdir(parents=True)
        (root / "junk_dataset" / hand / "a.csv").write_text("t,x,y\nnot,a,number\n")
    (root / "junk_dataset" / "dataset.json").write_text("[1, 2")


@pytest.fixture(scope="module")
def scratch(tiny_run, synth_dataset, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    """The scratch folder and the real things every example starts from."""
    base = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(synth_dataset, base / "real" / DATASET)
    shutil.copytree(tiny_run.out, base / "real" / RUN)
    return Scratch(base / "cwd", base / "real")


class ReachedWork(BaseException):  # noqa: N818 - a signal, not an error
    """A tripwire fired: the command line was valid and real work was about to start.

    A BaseException, so that no ``except Exception`` (or the CLI's ``user_errors``) turns it
    into an error message.
    """


def _non_finite(values: dict) -> list[str]:
    return [name for name, v in values.items()
            if isinstance(v, float | np.floating) and not math.isfinite(v)]


def _tripwire(what: str, arguments):
    """A stand-in for the work itself: checks that only finite numbers got this far."""

    def stop(*args, **kwargs):
        bad = _non_finite(arguments(*args, **kwargs))
        assert not bad, f"{what} reached with NaN or infinite {', '.join(bad)}"
        raise ReachedWork

    return stop


@contextlib.contextmanager
def tripwires(root: Path) -> Iterator[None]:
    """Stop a command where the work would begin. A folder removed outside ``root`` fails the
    example."""
    from deepmouse.classifier import HandClassifier
    from deepmouse.live import StreamingPredictor

    rmtree = shutil.rmtree

    def rmtree_inside_root(path, *args, **kwargs):
        path = Path(path).resolve()
        temporary = path.parent == Path(tempfile.gettempdir()).resolve()  # TemporaryDirectory
        assert temporary or path.is_relative_to(root.resolve()), f"rmtree({path})"
        return rmtree(path, *args, **kwargs)

    fit = _tripwire("fit", lambda clf, *a, **k: clf.get_params())
    push = _tripwire("live", lambda predictor, *a: {"hop": predictor.hop,
                                                      "rate": predictor.rate})
    synth = _tripwire("synth", lambda hand, seconds, seed, **k: {"seconds": seconds, **k})
    score = _tripwire("evaluate", lambda model, data, **k: k)
    figures = _tripwire("inspect", lambda dataset, config, out: config.to_dict())
    read_pointer = _tripwire("pointer", lambda: {})
    with (mock.patch.object(HandClassifier, "fit", fit),
          mock.patch.object(StreamingPredictor, "push", push),
          mock.patch("deepmouse.synth.synthesize_recording", synth),
          mock.patch("deepmouse.pointer.pointer", read_pointer),
          mock.patch("deepmouse.evaluate.evaluate_model", score),
          mock.patch("deepmouse.inspect_data.inspect_dataset", figures),
          mock.patch("shutil.rmtree", rmtree_inside_root)):
        yield


@contextlib.contextmanager
def inside(root: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(old)


def sandbox_env(root: Path) -> dict[str, str | None]:
    """No display (record and live fail at once), downloads from an empty local mirror."""
    return {"DISPLAY": None, "WAYLAND_DISPLAY": None, "DEEPMOUSE_DATA_MIRROR": str(root / "mirror"),
            "DEEPMOUSE_CACHE": str(root / "cache"), "MPLBACKEND": "Agg"}


def _refuse_constant(constant: str):
    raise ValueError(f"not strict JSON: {constant}")


def check_outcome(argv: list[str], result) -> None:
    """Status 0 or 2, no exception escaping, no traceback; a status 2 says why, briefly."""
    code, out, err = result.exit_code, result.stdout, result.stderr
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, (argv, repr(escaped))
    assert code in (0, 2), (argv, code, err[-500:])
    assert "Traceback" not in out + err, (argv, err[-500:])
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].lower().startswith("error:"), (argv, err[-500:])
        assert len(lines) <= 3, (argv, err)  # Click: Usage, Try ... --help, Error
        budget = 200 + 2 * sum(len(a) for a in argv)  # the message may quote the input
        assert len(lines[-1]) <= budget, (argv, lines[-1][:300])
    elif "--json" in argv and "--help" not in argv and "-h" not in argv and out.strip():
        json.loads(out, parse_constant=_refuse_constant)


def run(scratch: Scratch, argv: list[str]):
    """``cli(*argv)`` in a fresh scratch folder; ``None`` when a tripwire stopped it."""
    make_scratch(scratch.root, scratch.real)
    with inside(scratch.root), tripwires(scratch.root):
        try:
            return cli(*argv, env=sandbox_env(scratch.root))
        except ReachedWork:
            return None


def check_run(scratch: Scratch, argv: list[str]) -> None:
    result = run(scratch, argv)
    if result is not None:
        check_outcome(argv, result)


# --- the properties -------------------------------------------------------------------------


@FUZZ
@given(items=st.lists(st.one_of(text, st.sampled_from(WORDS)), max_size=4))
def test_parse_grid_gives_a_grid_or_one_line_saying_what_was_expected(items: list[str]):
    try:
        grid = parse_grid(items)
    except ValueError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("--grid "), message
        assert "expected" in message or "twice" in message, message
        return
    assert len(grid) == len(items)
    for name, grid_values in grid.items():
        assert name.isidentifier() and grid_values
        for value in grid_values:
            assert isinstance(value, int | float | str) and value != ""
            assert not isinstance(value, float) or value - value == 0  # finite
        assert len(grid_values) == len({repr(v) for v in grid_values})


@FUZZ
@given(items=st.lists(st.tuples(st.sampled_from(["lr", "batch-size", "C", "hidden"]),
                                st.lists(st.one_of(st.integers(-10**6, 10**6),
                                                   st.floats(allow_nan=False,
                                                             allow_infinity=False)),
                                         min_size=1, max_size=3, unique_by=float)),
                      max_size=4, unique_by=lambda item: item[0]))
def test_parse_grid_reads_back_the_numbers_it_is_given(items):
    grid = parse_grid([f"{name}={','.join(map(repr, vals))}" for name, vals in items])
    assert grid == {name.replace("-", "_"): vals for name, vals in items}


@FUZZ
@given(argv=argvs())
# NaN and infinity are refused before any work starts:
@example(argv=["data", "inspect", DATASET, "--idle-threshold", "1e400"])
@example(argv=["train", DATASET, "--l1", "nan"])
@example(argv=["sweep", DATASET, "--grid", "l1=nan", "--model", "gru"])
@example(argv=["tune", DATASET, f"--seed={2**64 + 1}"])  # beyond 64 bits
def test_any_command_line_ends_in_success_or_one_short_error(scratch: Scratch,
                                                              argv: list[str]):
    check_run(scratch, argv)


@settings(FUZZ, max_examples=12)
@given(argv=st.tuples(st.sampled_from(["test", "dev", "train", "all", "bogus", ""]),
                      st.sampled_from(NUMBERS + ["0.51", "0.99"]), st.booleans()))
def test_evaluate_of_a_real_model_takes_any_split_and_threshold(tiny_run, synth_dataset,
                                                                 argv: tuple[str, str, bool]):
    split, threshold, as_json = argv
    line = ["evaluate", tiny_run.model_path, synth_dataset, "--split", split,
            "--threshold", threshold, *(["--json"] if as_json else [])]
    check_outcome([str(a) for a in line], cli(*line))
