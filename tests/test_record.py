"""The recorder on a real X server: positions, schedule, signals, kill -9, errors.

Xvfb runs on a free display; xdotool moves the real pointer along a scripted path; the
recorder (``deepmouse record`` in a subprocess, or :func:`deepmouse.record.record` in-process)
reads it through pynput like it would on a desktop.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeClock, cli, start_entry_point
from xserver import XServer, require_x, scripted_path

import deepmouse.record
from deepmouse.pointer import poll
from deepmouse.record import FLUSH_SECONDS, new_recording_path, record, update_dataset_info
from deepmouse.recordings import (
    DataError,
    PartialLineWarning,
    interval_stats,
    load_dataset,
    read_recording,
)


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
def test_record_captures_the_scripted_path_one_sample_per_period(xserver: XServer,
                                                                  tmp_path: Path) -> None:
    xserver.move(5, 5)
    path = scripted_path(12, seed=1)
    proc = start_entry_point("record", str(tmp_path), "--hand", "left", "--seconds", "4",
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

    # the summary describes the file; one sample per 10 ms slot at most (no catch-up
    # bursts); the schedule itself is tested on a fake clock (test_poll_*)
    assert summary["samples"] == rec.n_samples
    assert np.all(np.diff(rec.t) > 0)
    slots = np.floor((rec.t + 1e-6) / 0.01)
    assert np.all(np.diff(slots) >= 1), "one sample per 10 ms slot: no catch-up bursts"
    stats = interval_stats(rec.t, 100.0)
    assert stats["spikes"] == summary["spikes"]
    assert summary["achieved_rate"] == pytest.approx(stats["achieved_rate"])
    assert summary["stopped_by"] == "seconds"

    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["device"] == "touchpad"
    assert info["recordings"][f"left/{Path(summary['path']).name}"]["rate"] == 100.0


@pytest.mark.x11
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_with_a_complete_file(xserver: XServer, tmp_path: Path, sig) -> None:
    proc = start_entry_point("record", str(tmp_path), "--hand", "right", env=xserver.env())
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
def test_kill_9_leaves_a_loadable_recording_with_what_was_on_disk(xserver: XServer,
                                                                  tmp_path: Path) -> None:
    proc = start_entry_point("record", tmp_path, "--hand", "left", env=xserver.env())
    path = wait_for_samples(tmp_path / "left", 120)  # about a second on disk
    on_disk = path.read_bytes().count(b"\n") - 1  # samples, without the header
    proc.kill()
    proc.wait(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialLineWarning)
        rec = read_recording(path)
    assert rec.n_samples >= on_disk and np.all(np.diff(rec.t) > 0)


def test_samples_reach_the_writer_every_flush_period(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """What a kill -9 can lose: samples not yet handed to the writer span < FLUSH_SECONDS."""
    handed: list[float] = [0.0]  # time of the last sample handed to the writer

    class Writer(deepmouse.record._Writer):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            put = self.chunks.put

            def track(chunk):
                if chunk and chunk != b"t,x,y\n":
                    handed.append(float(chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1].split(b",")[0]))
                put(chunk)

            self.chunks.put = track

    monkeypatch.setattr(deepmouse.record, "_Writer", Writer)
    clock = FakeClock()
    pending_span = []

    def on_sample(t: float, x: float, y: float) -> None:
        pending_span.append(t - handed[-1])

    summary = record(tmp_path, "left", seconds=3.0, position=lambda: (1.0, 2.0),
                     on_sample=on_sample, clock=clock, sleep=clock.sleep)
    assert summary.samples == 301  # 0 .. 3 s at 100 Hz, on the fake clock
    assert max(pending_span) <= FLUSH_SECONDS + 1e-9
    assert len(handed) >= 3.0 / FLUSH_SECONDS
    assert read_recording(summary.path).n_samples == 301


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
    assert summary.achieved_rate == pytest.approx(interval_stats(rec.t, 50.0)["achieved_rate"])
    # a second recording with another device: never overwritten, device becomes "mixed"
    second = record(tmp_path, "right", seconds=0.2, device="touchpad")
    assert second.path != summary.path and summary.path.exists()
    assert json.loads((tmp_path / "dataset.json").read_text())["device"] == "mixed"


# --------------------------------------------------------------------------- errors


def test_no_display_is_one_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = start_entry_point("record", tmp_path / "ds", "--hand", "left", "--seconds", "1",
                             env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith("error:") and "DISPLAY" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "ds").exists(), "no file before the pointer is known to work"
    # bad arguments are reported first, before looking for a display
    proc = start_entry_point("record", str(tmp_path / "ds"), "--hand", "both", env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "hand must be one of right, left" in err


def test_unreachable_display_is_one_clear_error(tmp_path: Path) -> None:
    env = dict(os.environ, DISPLAY=":4242")
    proc = start_entry_point("record", str(tmp_path), "--hand", "left", env=env)
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


def test_poll_samples_every_deadline_without_drift() -> None:
    clock = FakeClock()
    clock.now = 100.0
    samples = list(poll(lambda: (1.0, 2.0), rate=200.0, seconds=1.0, clock=clock,
                        sleep=clock.sleep))
    t = np.array([s[0] for s in samples])
    np.testing.assert_allclose(t, np.arange(201) / 200.0, atol=1e-9)  # 0 .. 1 s inclusive


def test_poll_skips_missed_deadlines_instead_of_bursting() -> None:
    """A 55 ms stall at 100 Hz: the missed deadlines are skipped, the schedule stays."""
    clock = FakeClock()
    stalled = []

    def position() -> tuple[float, float]:
        if len(stalled) == 0 and clock.now >= 0.1:
            stalled.append(clock.now)
            clock.now += 0.055  # the reader blocks for 55 ms once
        return 0.0, 0.0

    t = np.array([s[0] for s in poll(position, rate=100.0, seconds=0.3, clock=clock,
                                     sleep=clock.sleep)])
    slots = np.round(t / 0.01, 6)
    assert np.all(np.diff(t) > 0)
    assert slots[:11].tolist() == list(range(11))  # on schedule until the stall at 0.1 s
    assert t[11] == pytest.approx(0.16)  # next free deadline after 0.155 s: no burst
    assert np.all(np.diff(t[11:]) == pytest.approx(0.01))  # and on schedule again
    assert interval_stats(t, 100.0)["spikes"] == 1


@pytest.mark.x11
def test_x_server_going_away_keeps_the_recording(tmp_path: Path) -> None:
    require_x()
    with XServer() as x:
        proc = start_entry_point("record", str(tmp_path), "--hand", "left", env=x.env())
        path = wait_for_samples(tmp_path / "left", 60)
        x.stop()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lost the pointer" in out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = read_recording(path)
    assert rec.n_samples >= 59


def test_record_live_and_inspect_are_commands_with_their_options() -> None:
    def help_of(*args: str) -> str:
        res = cli(*args, "--help")
        assert res.exit_code == 0, res.stderr
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
