"""The HTML report redraws each run's figures from the data in its folder."""

from __future__ import annotations

import pytest

from deepmouse.recordings import DataError
from deepmouse.report import build_report


def test_report_of_a_run(tiny_run, tmp_path):
    for png in ("curves.png", "confusion.png"):  # figures are redrawn from the run's data
        (tiny_run.out / png).unlink(missing_ok=True)
    path = build_report([tiny_run.out], tmp_path / "r.html", title="tiny <runs>")
    page = path.read_text()
    assert "<title>tiny &lt;runs&gt;</title>" in page
    assert page.count("data:image/png;base64,") == 2
    assert str(tiny_run.out) in page
    assert f"{tiny_run.metrics['test']['accuracy']:.3f}" in page


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(DataError, match="not a run folder"):
        build_report([tmp_path], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
