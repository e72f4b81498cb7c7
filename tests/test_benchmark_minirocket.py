"""benchmarks/minirocket_window.py: aeon's transform and the compiled pass, timed side by side."""

from __future__ import annotations

import json

from conftest import load_benchmark


def test_the_benchmark_times_both_paths_on_identical_features(capsys):
    bench = load_benchmark("minirocket_window")
    assert bench.main(["--kernels", "200", "--repeats", "5", "--rounds", "2", "--no-pin"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["identical_features"] is True and result["features"] == 168
    assert len(result["rounds"]) == 2
    for row in result["rounds"]:
        assert 0 < row["compiled"]["p50_ms"] <= row["compiled"]["p99_ms"]
        assert 0 < row["aeon"]["p50_ms"] <= row["aeon"]["p99_ms"]
