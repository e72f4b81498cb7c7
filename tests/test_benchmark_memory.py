"""benchmarks/memory.py on a small recording: the files it writes read back, and its report has
every figure (the real figures, for 10 million samples, are in RESULTS.md)."""

from __future__ import annotations

import json

import numpy as np
from conftest import load_benchmark

from deepmouse.recordings import read_recording


def test_the_generated_recordings_are_valid_in_both_formats(tmp_path):
    bench = load_benchmark("memory")
    txy = read_recording(bench.write_huge_recording(tmp_path / "a.csv", 2500, "txy"))
    xy = read_recording(bench.write_huge_recording(tmp_path / "b.csv", 2500, "xy"))
    assert txy.has_time and not xy.has_time
    assert txy.n_samples == xy.n_samples == 2500
    assert np.all(np.diff(txy.t) > 0) and np.all(xy.xy == np.round(xy.xy))


def test_the_report_holds_every_figure(tmp_path):
    bench = load_benchmark("memory")
    out = tmp_path / "memory.json"
    assert bench.main(["--rows", "30000", "--json", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["formats"]) == {"txy", "xy"}
    for entry in result["formats"].values():
        assert entry["samples"] == 30000
        assert entry["read_peak_rss_mb"] >= entry["baseline_rss_mb"] > 0
        assert entry["window_peak_rss_mb"] > 0 and entry["read_s"] > 0
        assert sum(entry["windows"].values()) > 0
