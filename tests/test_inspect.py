"""`data inspect`: per-class numbers, the three figures and their data, one-class datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, cli

from deepmouse.inspect_data import inspect_dataset, print_report
from deepmouse.recordings import DataError, load_dataset, write_recording
from deepmouse.synth import synthesize_dataset
from deepmouse.windows import WindowConfig, active_mask, cut, make_splits, movement, resample

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_dataset(tmp_path_factory.mktemp("inspect") / "data", minutes=2, seed=3)


def test_numbers_match_the_windows_module(synth: Path, tmp_path: Path) -> None:
    config = WindowConfig(window=100)
    report = inspect_dataset(synth, config=config, out=tmp_path / "fig")
    dataset = load_dataset(synth)
    table = make_splits(dataset, config).table()
    for label, stats in enumerate(report.classes):
        recs = dataset.by_label(label)
        assert stats.name == ("right", "left")[label]
        assert stats.recordings == len(recs) == 1
        assert stats.minutes == pytest.approx(sum(r.duration for r in recs) / 60)
        assert stats.minutes == pytest.approx(1.0, abs=0.02)  # 2 minutes over two hands
        X = cut(movement(resample(recs[0], 100.0)), 100, 100)
        assert stats.windows == len(X)
        assert stats.active_fraction == pytest.approx(active_mask(X, 0.1).mean())
        assert stats.split_windows == {split: table[split][stats.name] for split in table}
    assert report.split_note is None
    assert len(report.timing) == 2 and report.untimed == 0

    assert [p.name for p in report.figures] == ["intervals.png", "example_window.png",
                                                "amplitude.png"]
    for path in report.figures:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    saved = json.loads(report.data_path.read_text())
    assert set(saved["example_window"]) == {"right", "left"}
    assert np.asarray(saved["example_window"]["left"]).shape == (100, 2)
    # the histograms count every step: all steps, active-window steps, normalised steps
    for name, stats in zip(("right", "left"), report.classes, strict=True):
        hist = saved["amplitude"][name]
        counts = [sum(h["counts"]) for h in hist.values()]
        assert counts[1] == counts[2] == stats.active_windows * 100
        assert counts[0] >= stats.windows * 100


def test_one_class_and_idle_recordings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = np.arange(1000) * 0.01
    still = np.column_stack([np.full(1000, 50.0), np.full(1000, 60.0)])
    write_recording(tmp_path / "left" / "still.csv", t, still)
    # timestamps with one 50 ms gap: a delay spike
    t_gap = np.r_[t[:500], t[500:] + 0.04]
    write_recording(tmp_path / "left" / "gap.csv", t_gap, still)
    report = inspect_dataset(tmp_path, out=tmp_path / "out")
    left = report.classes[1]
    assert report.classes[0].recordings == 0 and left.recordings == 2
    assert left.active_fraction == 0.0 and left.windows > 0
    assert report.split_note is not None  # no splits without the right hand: said, not raised
    assert sorted(t.spikes for t in report.timing) == [0, 1]
    assert all(p.is_file() for p in report.figures)
    print_report(report)
    out = capsys.readouterr().out
    assert "no splits" in out and "1 delay spike" in out
    assert str(report.figures[0]) in out


def test_headerless_recordings_have_no_timing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for hand in ("left", "right"):
        (tmp_path / hand).mkdir()
        xy = np.cumsum(rng.normal(0, 3, (700, 2)), axis=0)
        (tmp_path / hand / "a.txt").write_text("".join(f"{x:.0f},{y:.0f}\n" for x, y in xy))
    report = inspect_dataset(tmp_path, config=WindowConfig(window=50), figures=False)
    assert report.untimed == 2 and report.timing == [] and report.figures == []
    assert all(c.active_fraction > 0.9 for c in report.classes)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such dataset folder"):
        inspect_dataset(tmp_path / "missing")
    (tmp_path / "left").mkdir()
    with pytest.raises(DataError, match="no recordings"):
        inspect_dataset(tmp_path)


def test_inspect_command_prints_json_and_refuses_a_missing_folder(synth: Path,
                                                                  tmp_path: Path) -> None:
    res = cli("data", "inspect", synth, "--out", tmp_path / "f", "--window", "100", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert [c["name"] for c in report["classes"]] == ["right", "left"]
    assert report["config"]["window"] == 100
    assert all(Path(p).is_file() for p in report["figures"])
    assert_clean_error(cli("data", "inspect", tmp_path / "nope"), "no such dataset folder")


@pytest.mark.slow
def test_real_deepmouse_touchpad_data(shared_data: Path, tmp_path: Path) -> None:
    """The real DeepMouse files: headerless, 10 minutes a hand, mostly active."""
    report = inspect_dataset(shared_data / "touchpad", out=tmp_path)
    right, left = report.classes
    assert right.recordings == left.recordings == 1
    assert right.minutes == pytest.approx(10.0, abs=0.1)
    assert left.minutes == pytest.approx(10.0, abs=0.1)
    assert report.untimed == 2 and report.timing == []
    assert 0.5 < right.active_fraction < 1.0 and 0.5 < left.active_fraction < 1.0
    assert all(n > 0 for c in report.classes for n in c.split_windows.values())
    assert len(report.figures) == 3
