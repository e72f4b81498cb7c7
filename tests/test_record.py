"""The recorder on a real X server: positions, rate, signals, kill -9, errors.

Xvfb runs on a free display; xdotool moves the real pointer along a scripted path; the
recorder (``deepmouse record`` in a subprocess, or :func:`deepmouse.record.record` in-process)
reads it through pynput like it would on a desktop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from xserver import XServer, require_x, scripted_path

from deepmouse.record import (
    interval_stats,
    new_recording_path,
    poll,
    record,
    update_dataset_info,
)
from deepmouse.recordings import DataError, PartialLineWarning, load_dataset, read_recording


def deepmouse(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepmouse", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def only_file(folder: Path) -> Path:
    files = sorted(folder.glob("*.csv"))
    assert len(files) == 1, files
    return files[0]


def wait_for_samples(path_glob: Path, minimum_lines: int, timeout: float = 30) -> Path:
    """Wait until a recording in ``path_glob`` (a folder) has ``minimum_lines`` on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(path_glob.glob("*.csv"))
        if files and files[0].read_bytes().count(b"\n") >= minimum_lines:
            return files[0]
        time.sleep(0.05)
    raise AssertionError(f"no recording with {minimum_lines} lines in {path_glob}")


@pytest.fixture(scope="module")
def xserver():
    require_x()
    with XServer() as x:
        yield x


def dedup(xy: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive distinct positions."""
    keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
    return [tuple(int(v) for v in p) for p in xy[keep]]


# --------------------------------------------------------------------------- on Xvfb


@pytest.mark.x11
def test_record_captures_the_scripted_path_at_the_rate(xserver: XServer, tmp_path: Path) -> None:
    xserver.move(5, 5)
    path = scripted_path(12, seed=1)
    proc = deepmouse("record", str(tmp_path), "--hand", "left", "--seconds", "4",
                     "--device", "touchpad", "--json", env=xserver.env())
    wait_for_samples(tmp_path / "left", 10)  # recording has started
    xserver.move_path(path, hold=0.15)  # 12 points x 150 ms = 1.8 s, inside the 4 s
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    rec = read_recording(summary["path"], label=1)

    # every point of the path, in order, and nothing else (after the start position)
    seen = dedup(rec.xy)
    assert seen[0] == (5, 5)
    assert seen[1:] == path
    # each point held 150 ms is seen ~15 times at 100 Hz
    runs = np.diff(np.flatnonzero(np.r_[True, np.any(np.diff(rec.xy, axis=0) != 0, axis=1)]))
    assert np.median(runs) >= 10

    # rate: 100 Hz on schedule, for 4 s
    assert summary["samples"] == rec.n_samples
    dt = np.diff(rec.t)
    assert np.median(dt) == pytest.approx(0.01, abs=0.0005)
    assert rec.t[-1] == pytest.approx(4.0, abs=0.02)  # no drift
    slots = np.floor((rec.t + 1e-6) / 0.01)
    assert np.all(np.diff(slots) >= 1), "one sample per 10 ms slot: no catch-up bursts"
    # a missed deadline is skipped (a delay spike), so the achieved rate is at most 100 Hz
    # and drops only by the deadlines the OS made us miss: within 3% on a machine with
    # spare cores, within 10% on one whose load exceeds its cores (others' jobs running)
    tolerance = 3.0 if os.getloadavg()[0] < (os.cpu_count() or 1) else 10.0
    assert 100.0 - tolerance <= summary["achieved_rate"] <= 100.5, summary
    stats = interval_stats(rec.t, 100.0)
    assert stats["spikes"] == summary["spikes"]
    assert summary["stopped_by"] == "seconds"

    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["device"] == "touchpad"
    assert info["recordings"][f"left/{Path(summary['path']).name}"]["rate"] == 100.0


@pytest.mark.x11
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_with_a_complete_file(xserver: XServer, tmp_path: Path, sig) -> None:
    proc = deepmouse("record", str(tmp_path), "--hand", "right", env=xserver.env())
    wait_for_samples(tmp_path / "right", 60)
    xserver.move(300, 200)
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"stopped by {sig.name}" in out
    samples = int(out.split("samples: ")[1].split()[0])
    path = only_file(tmp_path / "right")
    assert path.read_bytes().endswith(b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no partial line: the file is complete
        rec = read_recording(path)
    assert rec.n_samples == samples
    assert tuple(rec.xy[-1]) == (300.0, 200.0)
    assert load_dataset(tmp_path, require_both=False).recordings[0].n_samples == samples


@pytest.mark.x11
def test_kill_9_loses_at_most_the_last_second(xserver: XServer, tmp_path: Path) -> None:
    proc = deepmouse("record", str(tmp_path), "--hand", "left", env=xserver.env())
    path = wait_for_samples(tmp_path / "left", 2)
    started = time.monotonic()  # the first samples are on disk: recording runs since <= now
    time.sleep(2.5)
    proc.kill()
    proc.wait(10)
    alive = time.monotonic() - started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialLineWarning)
        rec = read_recording(path)
    assert rec.t[-1] >= alive - 1.0, (rec.t[-1], alive)


@pytest.mark.x11
def test_record_library_in_process(xserver: XServer, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", xserver.display)
    xserver.move(640, 480)
    stop = threading.Event()
    seen: list[tuple[float, float, float]] = []

    def on_sample(t: float, x: float, y: float) -> None:
        seen.append((t, x, y))
        if len(seen) == 50:
            stop.set()

    summary = record(tmp_path, "right", rate=50.0, device="mouse", stop_event=stop,
                     on_sample=on_sample)
    assert summary.stopped_by == "stop" and summary.samples == 50
    rec = read_recording(summary.path)
    np.testing.assert_allclose(rec.t, [s[0] for s in seen], atol=1e-6)
    assert set(map(tuple, rec.xy)) == {(640.0, 480.0)}
    assert abs(summary.achieved_rate - 50.0) < 2.0
    # a second recording with another device: never overwritten, device becomes "mixed"
    second = record(tmp_path, "right", seconds=0.2, device="touchpad")
    assert second.path != summary.path and summary.path.exists()
    assert json.loads((tmp_path / "dataset.json").read_text())["device"] == "mixed"


# --------------------------------------------------------------------------- errors


def test_no_display_is_one_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = deepmouse("record", str(tmp_path / "ds"), "--hand", "left", "--seconds", "1", env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith("error:") and "DISPLAY" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "ds").exists(), "no file before the pointer is known to work"
    # bad arguments are reported first, before looking for a display
    proc = deepmouse("record", str(tmp_path / "ds"), "--hand", "both", env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "hand must be one of right, left" in err


def test_unreachable_display_is_one_clear_error(tmp_path: Path) -> None:
    env = dict(os.environ, DISPLAY=":4242")
    proc = deepmouse("record", str(tmp_path), "--hand", "left", env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert err.startswith("error:") and ":4242" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("kwargs, message", [
    (dict(hand="both"), "hand"),
    (dict(hand="left", rate=0), "rate"),
    (dict(hand="left", rate=5000), "rate"),
    (dict(hand="left", device="pen"), "device"),
    (dict(hand="left", seconds=-1), "seconds"),
])
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        record(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_broken_dataset_json_is_reported_before_recording(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DataError, match="dataset.json"):
        record(tmp_path, "left", seconds=1)
    assert not (tmp_path / "left").exists()


# --------------------------------------------------------------------------- pieces


def test_new_recording_path_never_overwrites(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    paths = [new_recording_path(tmp_path, "left", when) for _ in range(3)]
    assert [p.name for p in paths] == ["2026-01-02T03-04-05Z.csv", "2026-01-02T03-04-05Z-1.csv",
                                       "2026-01-02T03-04-05Z-2.csv"]
    assert all(p.exists() for p in paths)


def test_update_dataset_info_keeps_other_keys(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text(json.dumps({"notes": "mine", "screen": [1, 2]}))
    rec = tmp_path / "left" / "a.csv"
    update_dataset_info(tmp_path, rec, "mouse", 100.0)
    update_dataset_info(tmp_path, tmp_path / "left" / "b.csv", None, 50.0)
    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["notes"] == "mine" and info["screen"] == [1, 2]
    assert info["device"] == "mouse"
    assert info["recordings"]["left/b.csv"] == {"device": None, "rate": 50.0}


def test_interval_stats() -> None:
    t = np.r_[np.arange(100) * 0.01, 0.99 + 0.035]  # 99 intervals of 10 ms, one of 35 ms
    s = interval_stats(t, 100.0)
    assert s["spikes"] == 1
    assert s["interval_max_ms"] == pytest.approx(35.0)
    assert s["achieved_rate"] == pytest.approx(100 / 1.025)
    assert s["interval_mean_ms"] == pytest.approx(10.25)
    assert interval_stats(np.array([0.0]), 100.0)["spikes"] == 0


def test_poll_keeps_the_schedule_without_drift() -> None:
    # the scheduler alone (a constant reader, not a cursor): 1 s at 200 Hz
    samples = list(poll(lambda: (1.0, 2.0), rate=200.0, seconds=1.0))
    t = np.array([s[0] for s in samples])
    assert t[0] == pytest.approx(0.0, abs=1e-3)
    assert np.all(np.diff(t) > 0)
    assert len(t) <= 201
    assert len(t) >= (190 if os.getloadavg()[0] < (os.cpu_count() or 1) else 150)
    # sample k is due at k / rate: the median lag stays small (no accumulated drift)
    k = np.round(t * 200.0)
    assert np.median(t - k / 200.0) < 0.002


@pytest.mark.x11
def test_x_server_going_away_keeps_the_recording(tmp_path: Path) -> None:
    require_x()
    with XServer() as x:
        proc = deepmouse("record", str(tmp_path), "--hand", "left", env=x.env())
        path = wait_for_samples(tmp_path / "left", 60)
        x.stop()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lost the pointer" in out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = read_recording(path)
    assert rec.n_samples >= 59


def test_commands_are_registered() -> None:
    def help_of(*args: str) -> str:
        res = subprocess.run([sys.executable, "-m", "deepmouse", *args, "--help"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout

    top = help_of()
    assert "record" in top and "live" in top
    assert "inspect" in help_of("data")
    rec = help_of("record")
    assert all(opt in rec for opt in ("--hand", "--seconds", "--rate", "--device", "--json"))
    live = help_of("live")
    assert all(opt in live for opt in ("--seconds", "--replay", "--speed", "--hop",
                                       "--json-lines"))
    assert "--out" in help_of("data", "inspect")
