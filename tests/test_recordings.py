"""Reading recordings and datasets, and refusing bad input with a line that names the place."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_csv

from deepmouse.recordings import (
    DataError,
    PartialLineWarning,
    load_dataset,
    read_recording,
    write_recording,
)


def test_headerless_xy_gets_10ms_time(tmp_path):
    rec = read_recording(write_csv(tmp_path / "a.txt", ["1,2", "3,4", "5,7"]))
    assert not rec.has_time
    np.testing.assert_allclose(rec.t, [0.0, 0.01, 0.02])
    np.testing.assert_array_equal(rec.xy, [[1, 2], [3, 4], [5, 7]])


def test_txy_with_header_round_trips(tmp_path):
    t = np.array([0.0, 0.011, 0.019, 0.035])
    xy = np.array([[10, 20], [11, 22], [15, 21], [15, 30]], float)
    rec = read_recording(write_recording(tmp_path / "r.csv", t, xy))
    assert rec.has_time
    np.testing.assert_allclose(rec.t, t)
    np.testing.assert_allclose(rec.xy, xy)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["t,x,y", "0,1,2", "0.01,1", "0.02,3,4"], r"a\.csv:3: expected 3 columns, found 2"),
        (["t,x,y", "0,1,2", "0.01,abc,2", "0.02,3,4"], r"a\.csv:3: non-numeric"),
        (["t,x,y", "0,1,2", "0.01,nan,2", "0.02,3,4"], r"a\.csv:3: NaN or infinite"),
        (["t,x,y", "0,1,2", "0.01,1,2", "0.01,3,4"], r"a\.csv:4: time is not strictly"),
        (["t,x,y", "0,1,2", "0.02,1,2", "0.01,3,4"], r"a\.csv:4: time is not strictly"),
        (["a,b,c", "0,1,2"], r"a\.csv:1: unknown header"),
        (["1,2,3,4", "1,2,3,4"], r"a\.csv:1: expected 2 columns"),
        (["t,x,y"], r"a\.csv: truncated recording: 0 sample"),
        (["t,x,y", "0,1,2"], r"a\.csv: truncated recording: 1 sample"),
        (["1,2", "", "3,4"], r"a\.csv:2: empty line"),
    ],
)
def test_bad_recordings_name_file_and_line(tmp_path, lines, message):
    path = write_csv(tmp_path / "a.csv", lines)
    with pytest.raises(DataError, match=message):
        read_recording(path)


def test_empty_and_binary_files_are_refused(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty recording"):
        read_recording(tmp_path / "empty.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="not a text file"):
        read_recording(tmp_path / "bin.csv")
    with pytest.raises(DataError, match="no such recording"):
        read_recording(tmp_path / "missing.csv")


def test_partial_last_line_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "killed.csv"
    path.write_text("t,x,y\n0,1,2\n0.01,3,4\n0.02,5")  # recorder killed mid-line
    with pytest.warns(PartialLineWarning, match=r"killed\.csv:4"):
        rec = read_recording(path)
    assert rec.n_samples == 2


def test_a_bad_line_followed_by_newline_is_an_error_not_a_warning(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("t,x,y\n0,1,2\n0.01,3,4\n0.02,5\n")
    with pytest.raises(DataError, match=r"bad\.csv:4"):
        read_recording(path)


def test_dataset_layout_labels_and_checksum(tmp_path):
    for hand in ("left", "right"):
        write_csv(tmp_path / hand / "s1.txt", ["1,2", "3,4", "5,6"])
    ds = load_dataset(tmp_path)
    assert [r.label for r in ds.recordings] == [0, 1]  # right first: class 0 = right
    assert ds.recordings[0].path.parent.name == "right"
    before = ds.checksum
    write_csv(tmp_path / "left" / "s1.txt", ["1,2", "3,4", "5,7"])
    assert load_dataset(tmp_path).checksum != before


def test_missing_class_and_missing_folder(tmp_path):
    write_csv(tmp_path / "left" / "s1.txt", ["1,2", "3,4"])
    with pytest.raises(DataError, match="class 'right' has no recordings"):
        load_dataset(tmp_path)
    assert len(load_dataset(tmp_path, require_both=False).recordings) == 1
    with pytest.raises(DataError, match="no such dataset folder"):
        load_dataset(tmp_path / "nope")


def test_bad_dataset_json(tmp_path):
    for hand in ("left", "right"):
        write_csv(tmp_path / hand / "s1.txt", ["1,2", "3,4"])
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DataError, match="dataset.json: not valid JSON"):
        load_dataset(tmp_path)
