"""Shared fixtures: small synthetic datasets, the real shared data, a tiny trained model."""

from __future__ import annotations

import os
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

TINY = {"model": "gru", "hidden": 8, "epochs": 2, "batch_size": 16, "device": "cpu"}
"""Classifier parameters of a model small enough to train in about a second."""


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
def tiny_run(synth_dataset, tmp_path_factory):
    """A tiny GRU trained on the synthetic dataset through the pipeline."""
    from deepmouse.pipeline import RunConfig, train_run

    out = tmp_path_factory.mktemp("run")
    return train_run(RunConfig(dataset=str(synth_dataset), out=str(out), params=TINY))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real DeepMouse data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
