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


def test_a_recording_over_the_sample_limit_is_refused_naming_the_limit(tmp_path):
    rows = [f"{i * 0.01:.2f},{i},{i}" for i in range(10)]
    path = write_csv(tmp_path / "long.csv", ["t,x,y", *rows])
    assert read_recording(path, max_samples=10).n_samples == 10
    with pytest.raises(DataError, match=r"long\.csv: .*more than the 9 samples a recording may"):
        read_recording(path, max_samples=9)
    with pytest.raises(DataError, match=r"long\.csv: 12 lines, more than the 5 samples"):
        read_recording(path, max_samples=5)  # refused by the first pass, before parsing


def test_the_sample_limit_counts_samples_not_newlines(tmp_path):
    # form feeds break lines for str.splitlines, not for a newline count: the parse still stops
    path = tmp_path / "ff.txt"
    path.write_text("1,2\f3,4\f5,6\f7,8\n")
    assert read_recording(path).n_samples == 4
    with pytest.raises(DataError, match=r"ff\.txt: more than 3 samples"):
        read_recording(path, max_samples=3)


def reference_rows(lines: list[str]) -> np.ndarray:
    """The numbers of plain, valid CSV lines: what any correct reader must return."""
    return np.array([[float(f) for f in line.split(",")] for line in lines])


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 16, 64, 1000, 2**22])
def test_results_do_not_depend_on_the_chunk_size(tmp_path, chunk_bytes):
    rng = np.random.default_rng(chunk_bytes)
    t = np.cumsum(rng.uniform(0.001, 0.02, 300))
    xy = rng.normal(0, 500, (300, 2))
    lines = [f"{a!r},{b!r},{c!r}" for a, b, c in zip(t.tolist(), *xy.T.tolist(), strict=True)]
    path = write_csv(tmp_path / "r.csv", ["t,x,y", *lines])
    rec = read_recording(path, chunk_bytes=chunk_bytes)
    np.testing.assert_array_equal(np.column_stack([rec.t, rec.xy]), reference_rows(lines))
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("".join(f"{round(x)}, {round(y)}\r\n" for x, y in xy).encode())
    rec = read_recording(crlf, chunk_bytes=chunk_bytes)
    np.testing.assert_array_equal(rec.xy, np.round(xy))


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 4096, 2**22])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0.5,1", "expected 3 columns, found 2"),
        ("0.5,1,x", "non-numeric value in '0.5,1,x'"),
        ("0.5,inf,1", "NaN or infinite value"),
        ("", "empty line inside the recording"),
        ("0.001,1,1", "time is not strictly increasing (0.398 then 0.001)"),
    ],
)
def test_a_bad_line_deep_in_the_file_is_located_exactly(tmp_path, chunk_bytes, bad, message):
    lines = ["t,x,y"] + [f"{i * 0.001:g},{i},{i}" for i in range(500)]
    lineno = 401  # after 399 samples: in a later chunk for all but the largest chunk size
    lines.insert(lineno - 1, bad)
    path = write_csv(tmp_path / "deep.csv", lines)
    with pytest.raises(DataError) as info:
        read_recording(path, chunk_bytes=chunk_bytes)
    assert str(info.value).startswith(f"{path}:{lineno}: {message}")


def test_a_partial_last_line_is_dropped_whatever_the_chunk_size(tmp_path):
    path = tmp_path / "killed.csv"
    path.write_text("t,x,y\n" + "".join(f"{i * 0.01:.2f},{i},{i}\n" for i in range(50)) + "0.5,3")
    for chunk_bytes in (1, 4, 100, 2**22):
        with pytest.warns(PartialLineWarning, match=r"killed\.csv:52"):
            assert read_recording(path, chunk_bytes=chunk_bytes).n_samples == 50


def test_a_line_longer_than_the_limit_is_refused_whatever_the_chunk_size(tmp_path):
    from deepmouse.recordings import MAX_LINE_BYTES

    path = tmp_path / "wide.txt"
    path.write_text("1,2\n3," + " " * MAX_LINE_BYTES + "4\n5,6\n")
    for chunk_bytes in (1, 64, 2**22):
        with pytest.raises(DataError, match=rf"wide\.txt:2: line longer than {MAX_LINE_BYTES}"):
            read_recording(path, chunk_bytes=chunk_bytes)
    path.write_bytes(b"1,2\n" + b"7" * (10 * MAX_LINE_BYTES))  # no line break at all
    with pytest.raises(DataError, match=r"wide\.txt:2: line longer"):
        read_recording(path, chunk_bytes=64)


def test_entries_that_are_not_files_are_refused_not_skipped(tmp_path):
    for hand in ("left", "right"):
        write_csv(tmp_path / hand / "s1.txt", ["1,2", "3,4"])
    (tmp_path / "left" / "s2.csv").mkdir()
    with pytest.raises(DataError, match=r"s2\.csv: is a folder \(expected a recording file\)"):
        load_dataset(tmp_path)
    (tmp_path / "left" / "s2.csv").rmdir()
    (tmp_path / "left" / "s2.csv").symlink_to("s2.csv")
    with pytest.raises(DataError, match=r"s2\.csv: cannot open: Too many levels"):
        load_dataset(tmp_path)
    (tmp_path / "left" / "s2.csv").unlink()
    (tmp_path / "left" / "s2.csv").symlink_to("gone.csv")
    with pytest.raises(DataError, match=r"s2\.csv: broken symbolic link"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"n": ' + "7" * 5000 + "}", "not valid JSON"),
        (b"\xff{}", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_dataset_json_is_one_data_error(tmp_path, content, message):
    for hand in ("left", "right"):
        write_csv(tmp_path / hand / "s1.txt", ["1,2", "3,4"])
    info = tmp_path / "dataset.json"
    info.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(tmp_path)
    assert len(str(caught.value).splitlines()) == 1


def test_dataset_json_that_is_a_folder_or_too_large(tmp_path):
    from deepmouse.recordings import MAX_INFO_BYTES, read_dataset_info

    (tmp_path / "dataset.json").mkdir()
    with pytest.raises(DataError, match=r"dataset\.json: is a folder"):
        read_dataset_info(tmp_path)
    (tmp_path / "dataset.json").rmdir()
    (tmp_path / "dataset.json").write_text('{"notes": "' + "x" * MAX_INFO_BYTES + '"}')
    with pytest.raises(DataError, match=r"dataset\.json: larger than"):
        read_dataset_info(tmp_path)
