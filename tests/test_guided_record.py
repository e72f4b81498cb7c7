"""Recording is guided: the seconds of movement counted while recording are those a model sees
in the finished file, and the command says how much more a first model needs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_trace, start_entry_point, write_csv
from test_record import wait_for_samples
from xserver import XServer, require_x

from deepmouse.cli import minutes
from deepmouse.record import FIRST_MODEL_MINUTES, ActiveClock, recorded_seconds
from deepmouse.recordings import Recording, read_recording
from deepmouse.windows import WindowConfig, active_seconds


@pytest.fixture(scope="module")
def xserver():
    require_x()
    with XServer() as x:
        yield x


def still_then_moving(n_still: int, n_moving: int, seed: int) -> np.ndarray:
    """Positions ``(n_still + n_moving, 2)``: a resting pointer, then a moving one."""
    _, xy = moving_trace(n_moving, seed, hand=1)
    rest = xy[0] if n_moving else np.array([500.0, 500.0])
    return np.vstack([np.tile(rest, (n_still, 1)), xy])


@pytest.mark.parametrize("n_still, n_moving", [(0, 1000), (450, 1000), (1000, 0), (3, 199)])
def test_the_clock_while_recording_counts_what_the_finished_file_holds(n_still, n_moving):
    xy = still_then_moving(n_still, n_moving, seed=n_still)
    clock = ActiveClock()
    for x, y in xy:
        clock.push(x, y)
    rec = Recording(None, 1, np.arange(len(xy)) * 0.01, xy, has_time=False)
    assert clock.seconds == active_seconds(rec, WindowConfig())
    whole_moving_windows = (n_moving - 1) // 200 * 2.0  # n positions make n - 1 steps
    assert clock.seconds <= n_moving / 100 + 2.0
    if n_still == 0:
        assert clock.seconds == pytest.approx(whole_moving_windows)


def test_a_resting_pointer_counts_no_movement():
    clock = ActiveClock()
    for _ in range(2000):
        clock.push(100.0, 100.0)
    assert clock.seconds == 0.0


def test_the_clock_of_another_polling_rate_counts_two_second_windows():
    clock = ActiveClock.for_rate(50.0)
    _, xy = moving_trace(501, seed=3, hand=0)
    for x, y in xy:
        clock.push(x, y)
    assert clock.config.window == 100
    assert clock.seconds == pytest.approx(10.0)


def test_recorded_seconds_sums_each_hand_and_skips_what_does_not_load(tmp_path):
    _, xy = moving_trace(1001, seed=0, hand=1)
    write_csv(tmp_path / "left" / "a.txt", [f"{x:.3f},{y:.3f}" for x, y in xy])
    write_csv(tmp_path / "left" / "b.txt", [f"{x:.3f},{y:.3f}" for x, y in xy[:401]])
    write_csv(tmp_path / "left" / "broken.txt", ["1,2,3,4"])
    (tmp_path / "left" / "notes.md").write_text("not a recording")
    assert recorded_seconds(tmp_path) == {"right": 0.0, "left": 14.0}
    assert recorded_seconds(tmp_path / "missing") == {"right": 0.0, "left": 0.0}


@pytest.mark.x11
def test_record_reports_the_movement_and_what_a_first_model_still_needs(xserver: XServer,
                                                                         tmp_path: Path):
    xserver.move(5, 5)
    proc = start_entry_point("record", str(tmp_path), "--hand", "left", "--seconds", "5",
                             env=xserver.env())
    wait_for_samples(tmp_path / "left", 10)
    path = [(int(300 + 200 * np.cos(a)), int(300 + 150 * np.sin(2 * a)))
            for a in np.linspace(0, 6, 120)]
    xserver.move_path(path, hold=0.02)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Only movement counts" in err and f"about {FIRST_MODEL_MINUTES:g} minutes" in err
    moved = active_seconds(read_recording(next((tmp_path / "left").iterdir())), WindowConfig())
    assert moved > 0
    counted = float(next(line for line in out.splitlines()
                         if line.startswith("movement:")).split()[1])
    assert counted == pytest.approx(moved, abs=2.0)  # polled samples vs the resampled file
    goal = FIRST_MODEL_MINUTES * 60
    last = out.strip().splitlines()[-1]
    assert f"a first model needs {minutes(goal)} more of the right hand and " \
           f"{minutes(goal - counted)} more of the left hand" in last

    again = start_entry_point("record", str(tmp_path), "--hand", "left", "--seconds", "1",
                              "--json", env=xserver.env())
    summary = json.loads(again.communicate(timeout=60)[0])
    assert summary["active_seconds"] == 0.0  # nobody moved the pointer this time
