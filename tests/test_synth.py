"""Tests of the synthetic dataset generator (deepmouse.synth)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepmouse.recordings import DEFAULT_SCREEN, load_dataset, read_recording, write_recording
from deepmouse.synth import synthesize_dataset, synthesize_recording

SCREEN = DEFAULT_SCREEN


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _orientation(xy: np.ndarray) -> float:
    """Speed-weighted mean of sin(2 theta) of the steps: < 0 on the '/' diagonal (y down)."""
    d = np.diff(xy, axis=0)
    speed = np.hypot(d[:, 0], d[:, 1])
    theta = np.arctan2(d[:, 1], d[:, 0])
    return float((np.sin(2 * theta) * speed).sum() / speed.sum())


def _normal_acc_x(xy: np.ndarray) -> float:
    """Mean x component of the acceleration normal to the velocity (points to the pivot)."""
    d = np.diff(xy, axis=0)
    v, a = d[:-1], np.diff(d, axis=0)
    speed = np.hypot(v[:, 0], v[:, 1])
    ok = speed > 1
    vh = v[ok] / speed[ok, None]
    a_n = a[ok] - (a[ok] * vh).sum(axis=1)[:, None] * vh
    return float(a_n[:, 0].mean())


# --- recordings ----------------------------------------------------------------------------


def test_recording_shapes_time_and_screen():
    t, xy = synthesize_recording("right", 120.0, seed=3)
    assert t.ndim == 1 and xy.shape == (len(t), 2)
    assert t[0] == 0.0 and np.all(np.diff(t) > 0)
    assert 119.0 < t[-1] <= 120.0
    assert np.array_equal(xy, np.rint(xy))
    assert xy[:, 0].min() >= 0 and xy[:, 0].max() <= SCREEN[0] - 1
    assert xy[:, 1].min() >= 0 and xy[:, 1].max() <= SCREEN[1] - 1
    # the cursor gets around the screen, not stuck in one place
    assert np.ptp(xy[:, 0]) > SCREEN[0] / 2 and np.ptp(xy[:, 1]) > SCREEN[1] / 2


def test_recording_custom_screen_and_rate():
    t, xy = synthesize_recording("left", 60.0, seed=1, rate=50.0, screen=(300, 200))
    assert xy[:, 0].max() <= 299 and xy[:, 1].max() <= 199 and xy.min() >= 0
    assert np.median(np.diff(t)) == pytest.approx(0.02, abs=0.001)
    assert len(t) == pytest.approx(60 * 50, rel=0.05)


def test_recording_deterministic_and_seed_dependent():
    t1, xy1 = synthesize_recording("left", 30.0, seed=7)
    t2, xy2 = synthesize_recording("left", 30.0, seed=7)
    assert np.array_equal(t1, t2) and np.array_equal(xy1, xy2)
    t3, xy3 = synthesize_recording("left", 30.0, seed=8)
    assert len(t1) != len(t3) or not np.array_equal(xy1, xy3)
    # the two hands with one seed are independent draws, not copies or mirror images
    _, xy_r = synthesize_recording("right", 30.0, seed=7)
    n = min(len(xy1), len(xy_r))
    assert not np.array_equal(xy1[:n], xy_r[:n])
    assert not np.array_equal(xy1[:n, 0], SCREEN[0] - 1 - xy_r[:n, 0])


def test_sampling_interval_jitter_and_spikes():
    t, _ = synthesize_recording("right", 300.0, seed=0)
    dt = np.diff(t)
    assert np.median(dt) == pytest.approx(0.010, abs=0.0005)
    assert 0.0003 < dt.std() < 0.01  # jitter: not a perfect clock
    spikes = (dt >= 0.019).mean()
    assert 0.003 < spikes < 0.03
    assert dt.max() <= 0.065 and dt.min() > 0.002


def test_idle_pauses_and_strokes():
    t, xy = synthesize_recording("right", 300.0, seed=2)
    d = np.diff(xy, axis=0)
    moving = np.hypot(d[:, 0], d[:, 1]) > 0
    assert 0.2 <= 1 - moving.mean() <= 0.45  # share of still steps
    # still runs: some pauses last at least 0.3 s (30 samples), some several seconds
    edges = np.flatnonzero(np.diff(np.concatenate(([1], moving.astype(int), [1]))))
    runs = edges[1::2] - edges[::2]
    assert (runs >= 30).sum() > 50 and runs.max() >= 200
    # no teleporting: the speed stays below what 400 px in 0.15 s allows (minimum jerk peak
    # speed is 1.875 x the mean speed), with room for overlapping strokes
    speed = np.hypot(d[:, 0], d[:, 1]) / np.diff(t)
    assert speed.max() < 1.875 * 400 / 0.15 * 1.5


def test_hands_differ_in_the_intended_direction():
    # right hand: '/' diagonal (sin 2theta < 0 with y down), bow to the upper left, so the
    # normal acceleration points right; the left hand is the mirror image
    for seed in (0, 1):
        _, right = synthesize_recording("right", 600.0, seed=seed)
        _, left = synthesize_recording("left", 600.0, seed=seed)
        assert _orientation(right) < -0.02 < 0.02 < _orientation(left)
        assert _normal_acc_x(right) > 0 > _normal_acc_x(left)


def test_hands_are_not_trivially_separable():
    # the orientation of one 2-second active window often points the wrong way
    _, xy = synthesize_recording("right", 600.0, seed=4)
    n = (len(xy) - 1) // 200
    wrong = total = 0
    for k in range(n):
        w = xy[k * 200 : (k + 1) * 200 + 1]
        if (np.abs(np.diff(w, axis=0)).sum(axis=1) > 0).mean() < 0.25:
            continue
        total += 1
        wrong += _orientation(w) > 0
    assert total > 100
    assert 0.1 < wrong / total < 0.45


def test_hands_alike_apart_from_geometry():
    _, right = synthesize_recording("right", 600.0, seed=5)
    _, left = synthesize_recording("left", 600.0, seed=6)
    sr = np.hypot(*np.diff(right, axis=0).T)
    sl = np.hypot(*np.diff(left, axis=0).T)
    assert np.mean(sr > 0) == pytest.approx(np.mean(sl > 0), abs=0.05)
    assert np.median(sr[sr > 0]) == pytest.approx(np.median(sl[sl > 0]), rel=0.2)


def test_recording_round_trips_through_the_file(tmp_path):
    t, xy = synthesize_recording("left", 20.0, seed=11)
    rec = read_recording(write_recording(tmp_path / "r.csv", t, xy))
    assert np.array_equal(rec.t, t) and np.array_equal(rec.xy, xy)


# --- datasets ------------------------------------------------------------------------------


def test_dataset_layout_and_loads(tmp_path):
    dest = synthesize_dataset(tmp_path / "ds", minutes=3.0, seed=0, sessions=3)
    assert dest == tmp_path / "ds"
    ds = load_dataset(dest)
    assert [r.path.name for r in ds.by_label(0)] == ["session1.csv", "session2.csv", "session3.csv"]
    assert len(ds.by_label(1)) == 3
    assert {r.path.parent.name for r in ds.by_label(0)} == {"right"}
    assert {r.path.parent.name for r in ds.by_label(1)} == {"left"}
    for r in ds.recordings:  # 3 minutes / 2 hands / 3 sessions = 30 s each
        assert 29.5 < r.duration <= 30.0
        assert r.has_time
    # sessions of one hand differ
    first = [r.xy[:500] for r in ds.by_label(0)]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    info = ds.info
    assert info["synthetic"] is True and info["generator"] == "deepmouse.synth"
    assert info["seed"] == 0 and info["minutes"] == 3.0 and info["sessions"] == 3
    assert info["rate"] == 100.0 and info["screen"] == list(SCREEN) and info["notes"]


def test_dataset_file_seeds_reproduce_the_files(tmp_path):
    dest = synthesize_dataset(tmp_path / "ds", minutes=1.0, seed=5, sessions=2)
    info = json.loads((dest / "dataset.json").read_text())
    for rel, meta in info["files"].items():
        hand = rel.split("/")[0]
        t, xy = synthesize_recording(hand, meta["seconds"], meta["seed"])
        rec = read_recording(dest / rel)
        assert np.array_equal(rec.t, t) and np.array_equal(rec.xy, xy)


def test_dataset_byte_identical_for_a_seed(tmp_path):
    a = _files(synthesize_dataset(tmp_path / "a", minutes=1.0, seed=42, sessions=2))
    b = _files(synthesize_dataset(tmp_path / "b", minutes=1.0, seed=42, sessions=2))
    c = _files(synthesize_dataset(tmp_path / "c", minutes=1.0, seed=43, sessions=2))
    assert set(a) == {
        "dataset.json",
        "left/session1.csv",
        "left/session2.csv",
        "right/session1.csv",
        "right/session2.csv",
    }
    assert a == b
    assert set(c) == set(a)
    for name in a:
        if name.endswith(".csv"):
            assert a[name] != c[name], name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": -1.0}, "minutes"),
        ({"minutes": float("nan")}, "minutes"),
        ({"sessions": 0}, "sessions"),
        ({"sessions": 1.5}, "sessions"),
        ({"rate": 0}, "rate"),
        ({"rate": -100.0}, "rate"),
        ({"seed": -1}, "seed"),
    ],
)
def test_dataset_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthesize_dataset(tmp_path / "ds", **kwargs)
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("middle", 10.0, 0), {}, "hand"),
        (("right", 0.0, 0), {}, "seconds"),
        (("right", -5.0, 0), {}, "seconds"),
        (("right", 10.0, -3), {}, "seed"),
        (("right", 10.0, 0), {"rate": 0.0}, "rate"),
        (("right", 10.0, 0), {"screen": (0, 864)}, "screen"),
        (("right", 0.001, 0), {}, "too short"),
    ],
)
def test_recording_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthesize_recording(*args, **kwargs)


def test_refuses_to_overwrite_recordings(tmp_path):
    dest = synthesize_dataset(tmp_path / "ds", minutes=0.5, seed=0)
    before = _files(dest)
    with pytest.raises(ValueError, match="already holds recordings"):
        synthesize_dataset(dest, minutes=0.5, seed=1)
    assert _files(dest) == before
    # only one class present is refused too
    only_left = tmp_path / "only_left"
    write_recording(only_left / "left" / "mine.csv", np.array([0.0, 0.01]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="left/"):
        synthesize_dataset(only_left, minutes=0.5)


def test_writes_into_an_existing_empty_folder(tmp_path):
    (tmp_path / "ds" / "left").mkdir(parents=True)
    synthesize_dataset(tmp_path / "ds", minutes=0.5, seed=0)
    assert len(load_dataset(tmp_path / "ds").recordings) == 2
