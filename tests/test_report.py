"""The HTML report redraws each run's figures from the data in its folder, says what each shows
with the run's own numbers, and brings sweep and tune folders' tables and figures."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import pytest
from conftest import assert_clean_error, cli

from deepmouse.recordings import DataError
from deepmouse.report import build_report


class _Page(HTMLParser):
    """The images (their alt text) and the text of the page's figure captions and cells."""

    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []
        self.captions: list[str] = []
        self.cells: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "img":
            self.alts.append(dict(attrs).get("alt", ""))
        if tag in ("figcaption", "td"):
            self._in = tag
            (self.captions if tag == "figcaption" else self.cells).append("")

    def handle_endtag(self, tag) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data) -> None:
        if self._in:
            (self.captions if self._in == "figcaption" else self.cells)[-1] += data


def parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


def caption(parsed: _Page, start: str) -> str:
    found = [c for c in parsed.captions if c.startswith(start)]
    assert len(found) == 1, parsed.captions
    return " ".join(found[0].split())


@pytest.fixture(scope="module")
def run_page(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    for png in ("curves.png", "confusion.png", "reliability.png"):  # redrawn from the data
        (tiny_run.out / png).unlink(missing_ok=True)
    path = build_report([tiny_run.out], out / "r.html", title="tiny <runs>")
    return path.read_text()


def test_every_figure_of_a_run_is_embedded_with_alt_text(run_page):
    parsed = parse(run_page)
    # example window, learning curves, confusion, ROC, decision over time, reliability
    assert run_page.count("data:image/png;base64,") == len(parsed.alts) == 6
    assert all(len(alt) > 20 for alt in parsed.alts), parsed.alts
    for subject in ("example window", "learning curves", "confusion matrix", "ROC curve",
                    "seconds of movement", "reliability diagram"):
        assert sum(subject in alt for alt in parsed.alts) == 1, subject
    assert "<title>tiny &lt;runs&gt;</title>" in run_page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", run_page)  # nothing from afar


def test_sentences_carry_the_runs_own_numbers(tiny_run, run_page):
    parsed = parse(run_page)
    test = tiny_run.metrics["test"]
    n, right = test["n_windows"], test["accuracy"]
    assert caption(parsed, "On the ").startswith(f"On the {n} test windows, {right:.0%} were "
                                                 "right")
    assert f"{test['roc_auc']:.3f}" in caption(parsed, "Ranking the test windows")
    sequential = test["sequential"]
    at_10 = next(c for c in sequential["curve"] if c["seconds"] == 10)
    decision = caption(parsed, f"On {sequential['trials']} test trials")
    assert "after 10 s of movement" in decision
    if at_10["accuracy"] is None:
        assert "not made in any trial yet" in decision
    else:
        assert (f"right {at_10['accuracy']:.0%} of the time and made in "
                f"{at_10['decided']:.0%} of trials") in decision
    assert f"{test['ece']:.3f}" in caption(parsed, "Points on the diagonal")
    kept = tiny_run.history[tiny_run.metrics["best_epoch"] - 1]
    assert f"dev accuracy {kept['dev_accuracy']:.3f}" in caption(parsed, "Training ran 2 epoch")


def test_the_data_that_went_in_and_the_windows_per_split_are_tables(tiny_run, run_page):
    data = json.loads((tiny_run.out / "data.json").read_text())
    minutes = sum(c["minutes"] for c in data["classes"])
    assert minutes == pytest.approx(6, abs=0.1)  # the synthetic dataset's 6 minutes
    assert f"The model learned from {minutes:.1f} minutes of cursor movement" in run_page
    assert all(len(data["example_window"][hand]) == 200 for hand in ("right", "left"))
    cells = parse(run_page).cells
    for hand in data["classes"]:
        assert f"{hand['active_fraction']:.0%}" in cells
    for split, counts in tiny_run.metrics["windows"].items():
        row = cells.index(split)  # split, right, left, all
        assert cells[row + 1:row + 4] == [str(counts["right"]), str(counts["left"]),
                                          str(sum(counts.values()))]
    assert "sampling stability per recording" in run_page


def test_configuration_and_provenance_are_tables(tiny_run, run_page):
    cells = parse(run_page).cells
    assert cells[cells.index("resolved_params.hidden") + 1] == "8"
    assert cells[cells.index("dataset_checksum") + 1] == json.loads(
        (tiny_run.out / "data.json").read_text())["dataset_checksum"]
    assert "versions.torch" in cells


def test_an_older_run_folder_without_data_or_roc_points_still_reports(tiny_run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_run.out, old)
    (old / "data.json").unlink()
    metrics = json.loads((old / "metrics.json").read_text())
    del metrics["test"]["roc"]
    (old / "metrics.json").write_text(json.dumps(metrics))
    page = build_report([old], tmp_path / "r.html").read_text()
    assert "has no <code>data.json</code>" in page
    assert "No ROC points in this metrics.json" in page
    assert page.count("data:image/png;base64,") == 4  # no example window, no ROC curve


def test_sweep_and_tune_folders_bring_their_tables_and_figures(tiny_sweep, tiny_tune,
                                                               tmp_path):
    page = build_report([tiny_sweep, tiny_tune], tmp_path / "r.html").read_text()
    parsed = parse(page)
    sweep = json.loads((tiny_sweep / "sweep.json").read_text())
    tune = json.loads((tiny_tune / "tune.json").read_text())
    best = sweep[0]
    assert (f"the best (hidden={best['params']['hidden']}) reaches a mean dev accuracy of "
            f"{best['dev_accuracy_mean']:.3f}") in page
    assert f"{tune['n_trials']} finished trial(s)" in page
    assert f"{tune['best_dev_accuracy']:.3f}" in parsed.cells  # the trials table's best row
    trial_rows = [c for c in parsed.cells if c in {str(t["number"]) for t in tune["trials"]}]
    assert len(trial_rows) >= len(tune["trials"])
    figures = ["sweep_grid.png", "sweep.png", "tune_history.png", "tune_importance.png",
               "tune_surface.png"]
    assert [name for name in figures if (tiny_sweep / name).is_file()
            or (tiny_tune / name).is_file()] == figures
    assert len(parsed.alts) == 5 and all(alt.split(":")[0] in figures for alt in parsed.alts)
    assert "runs at a glance" not in page  # no run: no table of runs


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(DataError, match="not a run folder"):
        build_report([tmp_path], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("damage", ["metrics", "data", "sweep", "tune", "figure", "missing",
                                    "file"])
def test_bad_input_is_one_line_and_exit_2(damage, tiny_run, tiny_sweep, tiny_tune, tmp_path):
    if damage == "metrics":
        folder, fragment = tmp_path / "run", "metrics.json: corrupt file"
        shutil.copytree(tiny_run.out, folder)
        (folder / "metrics.json").write_text('{"dev": ')
    elif damage == "data":  # valid JSON, but not what a run writes
        folder, fragment = tmp_path / "run", "corrupt run folder (unexpected content"
        shutil.copytree(tiny_run.out, folder)
        (folder / "data.json").write_text('{"classes": 3}')
    elif damage in ("sweep", "figure"):
        folder = tmp_path / "sweep"
        shutil.copytree(tiny_sweep, folder)
        if damage == "sweep":
            fragment = "sweep.json: corrupt file"
            (folder / "sweep.json").write_text('{"not": "a list"}')
        else:
            fragment = "sweep_grid.png: corrupt figure"
            (folder / "sweep_grid.png").write_bytes(b"<html>not a picture</html>")
    elif damage == "tune":
        folder, fragment = tmp_path / "tune", "tune.json: corrupt file"
        shutil.copytree(tiny_tune, folder)
        (folder / "tune.json").write_bytes(b"\xff\xfe")
    elif damage == "missing":
        folder, fragment = tmp_path / "nowhere", "no such folder"
    else:
        folder, fragment = tmp_path / "a.txt", "not a folder"
        folder.write_text("x")
    out = tmp_path / "r.html"
    assert_clean_error(cli("report", tiny_run.out, folder, "--out", out), fragment)
    assert not out.exists()  # the good run before it is not written alone
