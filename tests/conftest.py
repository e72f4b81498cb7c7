"""Shared fixtures: small synthetic datasets, the real shared data, a tiny trained model, and
the two ways tests run the command line (in-process, or the real entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "deepmouse"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

TINY = {"family": "gru", "hidden": 8, "epochs": 2, "batch_size": 16, "device": "cpu"}
"""Classifier parameters of a model small enough to train in about a second."""
TINY_ARGS = ["--model", "gru", "--hidden", "8", "--epochs", "2", "--device", "cpu"]
"""The same model as command-line options."""


def cli(*args, env: dict | None = None):
    """Run ``deepmouse ARGS`` in this process (Typer's runner): ``exit_code``, ``stdout``,
    ``stderr``. Fast (no interpreter start, torch already imported); for everything but the
    entry point itself and commands that need their own process (signals, a display)."""
    from typer.testing import CliRunner

    from deepmouse.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env, prog_name="deepmouse")


def entry_point(*args, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run ``python -m deepmouse ARGS`` as a real subprocess (``returncode``, ``stdout``,
    ``stderr``)."""
    return subprocess.run([sys.executable, "-m", "deepmouse", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def start_entry_point(*args, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m deepmouse ARGS`` (for tests that signal or kill it)."""
    return subprocess.Popen([sys.executable, "-m", "deepmouse", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class FakeClock:
    """A clock that only moves when slept on (or advanced): timing logic without wall time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def assert_clean_error(result, *fragments: str) -> None:
    """Exit status 2, no traceback, one line on stderr naming the problem (``fragments``)."""
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    assert code == 2, (code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_csv(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def moving_trace(n: int, seed: int, hand: int) -> tuple[np.ndarray, np.ndarray]:
    """A cheap moving cursor trace (t (n,), xy (n, 2)); left hand (1) curves the other way."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.01
    steps = rng.normal(0, 3, size=(n, 2)) + (1 if hand else -1) * np.array([0.4, -0.2])
    return t, np.cumsum(steps, axis=0) + 500


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> Path:
    """6 minutes of synthetic data, one session per hand."""
    from deepmouse.synth import synthesize_dataset

    return synthesize_dataset(tmp_path_factory.mktemp("synth") / "data", minutes=6, seed=1)


@pytest.fixture(scope="session")
def synth_sessions(tmp_path_factory) -> Path:
    """8 minutes of synthetic data, four sessions per hand (for the session split)."""
    from deepmouse.synth import synthesize_dataset

    return synthesize_dataset(
        tmp_path_factory.mktemp("synth_sessions") / "data", minutes=8, seed=2, sessions=4
    )


@pytest.fixture(scope="session")
def rocket_splits(tmp_path_factory):
    """10 minutes of synthetic data in 1-s windows, train windows every 25 steps: MiniRocket
    needs more windows than the networks' fixtures."""
    from deepmouse.recordings import load_dataset
    from deepmouse.synth import synthesize_dataset
    from deepmouse.windows import WindowConfig, make_splits

    data = synthesize_dataset(tmp_path_factory.mktemp("rocket") / "data", minutes=10, seed=5)
    return make_splits(load_dataset(data), WindowConfig(window=100, stride=25), "chrono")


@pytest.fixture(scope="session")
def tiny_run(synth_dataset, tmp_path_factory):
    """A tiny GRU trained on the synthetic dataset through the pipeline."""
    from deepmouse.pipeline import RunConfig, train_run

    out = tmp_path_factory.mktemp("run")
    return train_run(RunConfig(dataset=str(synth_dataset), out=str(out), params=TINY))


@pytest.fixture(scope="session")
def tiny_sweep(synth_dataset, tmp_path_factory) -> Path:
    """A sweep folder: the tiny GRU at two hidden sizes, one epoch, one seed."""
    from deepmouse.pipeline import RunConfig
    from deepmouse.search import sweep

    out = tmp_path_factory.mktemp("sweep")
    config = RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1})
    sweep(config, {"hidden": [4, 8]}, [0], out)
    return out


@pytest.fixture(scope="session")
def tiny_tune(synth_dataset, tmp_path_factory) -> Path:
    """A tune folder: four one-epoch trials of the tiny GRU (enough for every tune figure)."""
    from deepmouse.pipeline import RunConfig
    from deepmouse.search import tune

    out = tmp_path_factory.mktemp("tune")
    tune(RunConfig(dataset=str(synth_dataset), params=TINY | {"epochs": 1}), 4, out)
    return out


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real DeepMouse data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")


def finished_trials(storage: str, study: str = "deepmouse") -> dict[int, tuple[dict, float]]:
    """The finished trials of an Optuna study by number: (parameters, dev accuracy); empty
    while the study or its database is not created yet."""
    import optuna
    from sqlalchemy.exc import OperationalError

    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
    except (KeyError, OperationalError):  # not created yet, or the database being created
        return {}
    states = (optuna.trial.TrialState.COMPLETE,)
    return {t.number: (t.params, t.value) for t in loaded.get_trials(states=states)}
