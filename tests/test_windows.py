"""Windows, idle filtering, normalisation and the three splits."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_trace

from deepmouse.recordings import DataError, Dataset, Recording, load_dataset
from deepmouse.windows import (
    OptimisticSplitWarning,
    WindowConfig,
    active_mask,
    all_windows,
    cut,
    fit_scale,
    grid_length,
    make_splits,
    movement,
    resample,
)


def test_cut_shapes_and_stride():
    steps = np.arange(20, dtype=float).reshape(10, 2)
    X = cut(steps, window=4, stride=2)
    assert X.shape == (4, 4, 2)  # starts 0, 2, 4, 6
    np.testing.assert_array_equal(X[1, 0], steps[2])
    assert cut(steps, window=11, stride=1).shape == (0, 11, 2)


def test_movement_and_resample_to_uniform_grid():
    rec = Recording(None, 0, np.array([0.0, 0.013, 0.02, 0.041]),
                    np.array([[0, 0], [13, 0], [20, 0], [41, 0]], float))
    xy = resample(rec, rate=100)
    np.testing.assert_allclose(xy[:, 0], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(movement(xy)[:, 0], [10, 10, 10, 10])


def _jittered_recording(n: int, seed: int) -> Recording:
    rng = np.random.default_rng(seed)
    t = np.round(np.cumsum(rng.uniform(0.004, 0.03, n)) + rng.uniform(-50, 50), 4)
    t = np.unique(t)
    xy = np.cumsum(rng.normal(0, 3, (len(t), 2)), axis=0)
    return Recording(None, 0, t, xy)


@pytest.mark.parametrize("seed", range(4))
def test_resampling_in_blocks_gives_the_numbers_of_one_interpolation(monkeypatch, seed):
    import deepmouse.windows as windows

    rec = _jittered_recording(5000, seed)
    for rate in (100.0, 33.0, 250.0):
        grid = np.arange(rec.t[0], rec.t[-1] + 1e-9, 1.0 / rate)
        whole = np.column_stack([np.interp(grid, rec.t, rec.xy[:, k]) for k in range(2)])
        assert grid_length(rec, rate) == len(grid)
        for block in (1, 7, 1000, 2**20):
            monkeypatch.setattr(windows, "RESAMPLE_BLOCK", block)
            np.testing.assert_array_equal(resample(rec, rate), whole)


def test_idle_test_in_blocks_is_the_same_as_at_once(monkeypatch):
    import deepmouse.windows as windows

    rng = np.random.default_rng(0)
    X = (rng.normal(0, 1, (1001, 50, 2)) * rng.uniform(0, 0.3, (1001, 1, 2))).astype(np.float32)
    whole = np.all(X.std(axis=1) > 0.1, axis=1)
    assert 0 < whole.sum() < len(X)
    for block in (1, 3, 1000, 4096):
        monkeypatch.setattr(windows, "MASK_BLOCK", block)
        np.testing.assert_array_equal(active_mask(X, 0.1), whole)


def test_idle_windows_are_dropped_per_axis():
    X = np.zeros((3, 10, 2), np.float32)
    X[1, :, 0] = np.arange(10)  # moves along x only: idle along y
    X[2] = np.random.default_rng(0).normal(size=(10, 2))
    np.testing.assert_array_equal(active_mask(X, 0.1), [False, False, True])


def test_scale_is_per_axis_std():
    X = np.stack([np.random.default_rng(0).normal(0, [2.0, 5.0], size=(400, 2))] * 3)
    np.testing.assert_allclose(fit_scale(X), [2.0, 5.0], rtol=0.15)


def _dataset(n_per_class=1, n=6000) -> Dataset:
    recs = [
        Recording(None, label, *moving_trace(n, seed=10 * label + k, hand=label), has_time=False)
        for label in (0, 1) for k in range(n_per_class)
    ]
    return Dataset(root=None, recordings=recs, checksum="x")


def test_chrono_split_is_time_ordered_and_disjoint():
    cfg = WindowConfig(window=100, stride=25)
    splits = make_splits(_dataset(), cfg, "chrono")
    for rec in (0, 1):
        tr, dv, te = (s.start[s.recording == rec] for s in (splits.train, splits.dev, splits.test))
        # every train window ends before dev begins; dev ends before test begins
        assert tr.max() + cfg.seconds <= dv.min() + 1e-9
        assert dv.max() + cfg.seconds <= te.min() + 1e-9
    assert np.diff(splits.dev.start[splits.dev.recording == 0]).min() >= cfg.seconds - 1e-9
    # overlapping train windows: stride 25 gives ~4x the windows of a 100 stride
    assert len(splits.train) > 3 * len(make_splits(_dataset(), WindowConfig(100), "chrono").train)


def test_session_split_holds_out_whole_recordings():
    ds = _dataset(n_per_class=3, n=3000)
    splits = make_splits(ds, WindowConfig(window=100), "session", seed=3)
    sets = [set(s.recording.tolist()) for s in (splits.train, splits.dev, splits.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sorted(splits.test_recordings) == sorted(sets[2])
    with pytest.raises(DataError, match="needs at least 3 recordings"):
        make_splits(_dataset(n_per_class=2, n=3000), WindowConfig(window=100), "session")


@pytest.mark.parametrize("method", ["chrono", "session"])
def test_test_windows_overlap_at_the_test_stride_and_nothing_else_changes(method):
    ds = _dataset(n_per_class=3, n=3000)
    cfg = WindowConfig(window=100)
    plain = make_splits(ds, cfg, method, seed=3)
    live = make_splits(ds, cfg, method, seed=3, test_stride=25)
    for part in ("train", "dev"):
        np.testing.assert_array_equal(getattr(live, part).X, getattr(plain, part).X)
    rec = live.test.recording[0]
    gaps = np.diff(live.test.start[live.test.recording == rec])
    assert gaps.min() == pytest.approx(0.25) and 3.5 * len(plain.test) < len(live.test)
    with pytest.raises(ValueError, match="test_stride"):
        make_splits(ds, cfg, "random", test_stride=25)


def test_random_split_warns_and_partitions():
    ds = _dataset()
    with pytest.warns(OptimisticSplitWarning):
        splits = make_splits(ds, WindowConfig(window=100), "random", seed=0)
    total = len(splits.train) + len(splits.dev) + len(splits.test)
    assert total == len(all_windows(ds, WindowConfig(window=100)))
    assert 0.6 < len(splits.train) / total < 0.8


def test_window_longer_than_recording_is_refused():
    with pytest.raises(DataError, match="longer than the recording"):
        make_splits(_dataset(n=500), WindowConfig(window=200), "chrono")
    with pytest.raises(DataError, match="longer than the recording"):
        all_windows(_dataset(n=100), WindowConfig(window=200))


def test_split_without_active_windows_of_a_class_is_refused():
    ds = _dataset()
    still = ds.recordings[1]
    ds.recordings[1] = Recording(None, 1, still.t, np.zeros_like(still.xy), has_time=False)
    with pytest.raises(DataError, match="no active windows of class left"):
        make_splits(ds, WindowConfig(window=100), "chrono")


def test_unknown_split(synth_dataset):
    with pytest.raises(DataError, match="unknown split"):
        make_splits(load_dataset(synth_dataset), WindowConfig(), "bogus")
