"""Property-based fuzzing of every reader of files a user hands over: recordings, dataset folders
and ``dataset.json``.

Every input gives either the right result (checked against the numbers written, or against a
reference parse of the whole file at once) or a :class:`DataError` whose message is one line
naming the file; never another exception. The command line turns the same inputs into exit
status 2 and one line on stderr.

Examples are derandomised (the same inputs every run, so CI is reproducible) and kept few enough
for the file to run in seconds; ``DEEPMOUSE_FUZZ_EXAMPLES=N`` asks for N per property instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_ARGS, assert_clean_error, cli, entry_point, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmouse.recordings import (
    MAX_LINE_BYTES,
    DataError,
    PartialLineWarning,
    load_dataset,
    read_dataset_info,
    read_recording,
)

EXAMPLES = int(os.environ.get("DEEPMOUSE_FUZZ_EXAMPLES", "0")) or None
FUZZ = settings(
    max_examples=EXAMPLES or 100,
    deadline=5000,  # ms for one example: a hang fails instead of stalling the suite
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHUNK_SIZES = (1, 2, 3, 5, 8, 64, 4 * 2**20)
"""Chunk sizes every recording is read with: the answer must not depend on them."""

TRIED: dict[str, set[str]] = {"inputs": set(), "refused": set()}
"""Distinct inputs the readers were given, and those refused with a DataError (by digest)."""


def tally(kind: str, data: bytes, refused: bool) -> None:
    key = kind + ":" + hashlib.sha256(data).hexdigest()
    TRIED["inputs"].add(key)
    if refused:
        TRIED["refused"].add(key)


def assert_one_line_naming(message: str, path: Path) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, (message, path)


# ---- a reference parse of a recording: the whole file at once, one line at a time ----------

EXPECTED = "expected CSV lines 't,x,y' or 'x,y'"


def shown(line: str) -> str:
    return repr(line) if len(line) <= 80 else f"{line[:80]!r}... ({len(line)} characters)"


def reference(data: bytes) -> tuple:
    """What reading ``data`` must give: ``("ok", rows (n, n_cols), has_time, partial line
    number or None)`` or ``("error", message after the file name)``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "error", f": not a text file ({EXPECTED})"
    if not text.strip():
        return "error", f": empty recording ({EXPECTED})"
    lines = text.splitlines()

    def too_long(i: int) -> bool:
        return len(lines[i].encode()) > MAX_LINE_BYTES

    if too_long(0):
        return "error", f":1: line longer than {MAX_LINE_BYTES} bytes ({EXPECTED})"
    first = [f.strip() for f in lines[0].split(",")]
    try:
        [float(f) for f in first]
        header = False
    except ValueError:
        header = True
    if header:
        names = [f.lower() for f in first]
        if names not in (["t", "x", "y"], ["x", "y"]):
            return "error", f":1: unknown header {shown(lines[0])} (expected 't,x,y' or 'x,y')"
        n_cols = len(names)
    else:
        n_cols = len(first)
        if n_cols not in (2, 3):
            return "error", f":1: expected 2 columns 'x,y' or 3 columns 't,x,y', found {n_cols}"
    rows, partial = [], None
    for i in range(int(header), len(lines)):
        line, last = lines[i].strip(), i == len(lines) - 1
        if too_long(i):
            return "error", f":{i + 1}: line longer than {MAX_LINE_BYTES} bytes ({EXPECTED})"
        if not line:
            if last:
                continue
            return "error", f":{i + 1}: empty line inside the recording"
        fields, problem = line.split(","), None
        if len(fields) != n_cols:
            problem = f"expected {n_cols} columns, found {len(fields)}"
        else:
            try:
                values = [float(f) for f in fields]
            except ValueError:
                problem = f"non-numeric value in {shown(line)}"
        if problem is not None:
            if last and not text.endswith(("\n", "\r")):
                partial = i + 1
                continue
            return "error", f":{i + 1}: {problem}"
        if not all(math.isfinite(v) for v in values):
            return "error", f":{i + 1}: NaN or infinite value in {shown(line)}"
        rows.append(values)
    if len(rows) < 2:
        return "error", f": truncated recording: {len(rows)} sample(s), need at least 2"
    rows = np.array(rows)
    if n_cols == 3:
        for k in range(len(rows) - 1):
            if rows[k + 1, 0] <= rows[k, 0]:
                return "error", (f":{k + 2 + int(header)}: time is not strictly increasing "
                                 f"({rows[k, 0]:g} then {rows[k + 1, 0]:g})")
    return "ok", rows, n_cols == 3, partial


def outcome(path: Path, **kwargs) -> tuple:
    """Read ``path``; the result in :func:`reference`'s form. Any exception but DataError
    propagates (and fails the test)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rec = read_recording(path, **kwargs)
        except DataError as exc:
            message = str(exc)
            assert_one_line_naming(message, path)
            assert message.startswith(str(path)), message
            return "error", message[len(str(path)):]
    partial = [w for w in caught if issubclass(w.category, PartialLineWarning)]
    assert len(partial) <= 1
    partial_line = None
    if partial:
        text = str(partial[0].message)
        assert_one_line_naming(text, path)
        partial_line = int(text[len(str(path)) + 1:].split(":")[0])
    rows = np.column_stack([rec.t, rec.xy]) if rec.has_time else rec.xy
    assert rec.xy.dtype == np.float64 and rec.xy.shape == (rec.n_samples, 2)
    return "ok", rows, rec.has_time, partial_line


def same(a: tuple, b: tuple) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a[1] == b[1]
    return a[2] == b[2] and a[3] == b[3] and np.array_equal(a[1], b[1])


def check_recording(
    data: bytes, kind: str, chunk_sizes=CHUNK_SIZES, folder: Path | None = None
) -> tuple:
    """Read ``data`` (as a file in ``folder``, default a new temporary one) with every chunk
    size; each must give the reference answer, which is returned."""
    if folder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return check_recording(data, kind, chunk_sizes, Path(tmp))
    expected = reference(data)
    path = folder / "rec.csv"
    path.write_bytes(data)
    for chunk in chunk_sizes:
        got = outcome(path, chunk_bytes=chunk)
        assert same(got, expected), (data[:300], chunk, got[:2], expected[:2])
    tally(kind, data, expected[0] == "error")
    return expected


# ---- strategies ---------------------------------------------------------------------------

finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**6, 10**6).map(float),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1536.0, 864.0]),
)
FORMATS = ("t,x,y", "x,y", "headerless 3", "headerless 2")


@st.composite
def valid_recordings(draw, max_rows: int = 12) -> tuple[bytes, np.ndarray, bool]:
    """A valid recording in one of the four forms; its bytes, rows and whether it has time."""
    fmt = draw(st.sampled_from(FORMATS))
    n = draw(st.integers(2, max_rows))
    xy = [[draw(finite), draw(finite)] for _ in range(n)]
    has_time = fmt in ("t,x,y", "headerless 3")
    if has_time:
        t0 = draw(st.floats(-1e6, 1e6))
        steps = draw(st.lists(st.floats(1e-3, 1e3), min_size=n, max_size=n))
        t = list(np.cumsum([t0, *steps[1:]]))
        rows = [[float(a), *b] for a, b in zip(t, xy, strict=True)]
    else:
        rows = xy
    sep = draw(st.sampled_from([",", ", ", " , "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [sep.join(repr(v) for v in row) for row in rows]
    if fmt in ("t,x,y", "x,y"):
        lines.insert(0, draw(st.sampled_from([fmt, fmt.upper(), fmt.replace(",", " , ")])))
    text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    return text.encode(), np.array(rows, dtype=np.float64), has_time


BAD_LINES = st.one_of(
    st.sampled_from([
        "", " ", "\t", "1", "1,2,3,4", "1,,2", ",", "nan,1", "1,inf", "-inf,0,0", "1e999,2",
        "-1e999,2", "1_000,2", "0x10,2", "1,2,", "abc,def", "t,x,y", "x,y", "1;2", "1 2",
        "١,٢", "１,２", "1\x0c2,3", "1\u20282", "1,2\x00", "\ufeff1,2", "9" * 400 + ",1",
        "1," + " " * (MAX_LINE_BYTES + 1) + "2", "-0,-0", "+1,+2", ".5,5.", "1e-400,1",
    ]),
    st.text(alphabet="0123456789.,+-eE naif\t", max_size=20),
)


@st.composite
def mutated_recordings(draw) -> bytes:
    """A valid recording with a few lines replaced, duplicated, reordered or inserted."""
    data, _, _ = draw(valid_recordings())
    lines = data.decode().splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["replace", "insert", "duplicate", "swap", "bytes"]))
        if action == "replace":
            lines[i] = draw(BAD_LINES) + "\n"
        elif action == "insert":
            lines.insert(i, draw(BAD_LINES) + "\n")
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif action == "bytes":
            raw = "".join(lines).encode()
            at = draw(st.integers(0, len(raw)))
            return raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return "".join(lines).encode()


# ---- recordings ---------------------------------------------------------------------------


@FUZZ
@given(valid_recordings())
def test_a_valid_recording_reads_as_the_numbers_written(case):
    data, rows, has_time = case
    result = check_recording(data, "valid")
    assert result[0] == "ok" and result[2] == has_time and result[3] is None
    np.testing.assert_array_equal(result[1], rows)


@settings(FUZZ, max_examples=EXAMPLES or 12)
@given(valid_recordings(max_rows=4))
def test_a_recording_cut_at_every_position(case):
    data, rows, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        results = [check_recording(data[:end], "truncated", (1, 4 * 2**20), Path(tmp))
                   for end in range(len(data) + 1)]
    for end, result in enumerate(results):
        if result[0] == "ok":  # a prefix of the samples
            n = len(result[1])
            np.testing.assert_array_equal(result[1][:-1], rows[: n - 1])
            if data[:end].endswith((b"\n", b"\r")):
                np.testing.assert_array_equal(result[1][-1], rows[n - 1])
            # else the last line was cut but still parses ("10" cut to "1"): the format
            # cannot tell, so it is read as written


@FUZZ
@given(mutated_recordings())
def test_a_damaged_recording_is_read_or_refused_like_the_reference(data):
    check_recording(data, "damaged")


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_as_a_recording(data):
    check_recording(data, "bytes")


@FUZZ
@given(st.text(alphabet="0123456789.,+-eE xyt\n\r", max_size=120))
def test_csv_like_noise_as_a_recording(text):
    check_recording(text.encode(), "noise")


def test_what_is_not_a_file_is_refused_and_nothing_hangs(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    (tmp_path / "dangling.csv").symlink_to("nowhere.csv")
    os.mkfifo(tmp_path / "fifo.csv")  # opening it for reading would block forever
    write_csv(tmp_path / "file.csv", ["1,2", "3,4"])
    cases = {
        "dir.csv": "is a folder", "loop.csv": "cannot open", "dangling.csv": "broken symbolic",
        "fifo.csv": "not a regular file", "missing.csv": "no such recording file",
        "file.csv/inside.csv": "cannot open", "nul\0.csv": "cannot open",
    }
    for name, fragment in cases.items():
        path = tmp_path / name
        with pytest.raises(DataError, match=fragment) as caught:
            read_recording(path)
        assert_one_line_naming(str(caught.value), path)
        tally("not a file", name.encode(), True)


# ---- datasets -----------------------------------------------------------------------------

ENTRY_KINDS = ("valid", "damaged", "bytes", "folder", "loop", "dangling", "hidden", "other")


@st.composite
def dataset_specs(draw) -> dict:
    """A dataset folder's layout: per class, missing / a file / a folder of entries; and
    ``dataset.json``."""
    spec: dict = {}
    for name in ("left", "right"):
        shape = draw(st.sampled_from(["folder", "folder", "folder", "missing", "file", "loop"]))
        entries = []
        if shape == "folder":
            for _ in range(draw(st.integers(0, 3))):
                kind = draw(st.sampled_from(ENTRY_KINDS))
                if kind == "valid":
                    content = draw(valid_recordings())[0]
                elif kind == "damaged":
                    content = draw(mutated_recordings())
                else:
                    content = draw(st.binary(max_size=60))
                entries.append((kind, content))
        spec[name] = (shape, entries)
    spec["json"] = draw(st.one_of(
        st.none(), st.binary(max_size=60), json_documents(), st.sampled_from(["folder", "loop"]),
    ))
    return spec


def json_documents() -> st.SearchStrategy[bytes]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.text(max_size=5), inner, max_size=3)),
        max_leaves=8,
    )
    return st.one_of(
        values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"[" * 5000, b'{"n": ' + b"9" * 5000 + b"}", b"\xef\xbb\xbf{}"]),
    )


def build(root: Path, spec: dict) -> list[tuple[int, Path]]:
    """Make the folder of ``spec``; the regular recording files it holds, as (label, path)."""
    root.mkdir()
    files = []
    for label, name in enumerate(("right", "left")):
        shape, entries = spec[name]
        folder = root / name
        if shape == "file":
            folder.write_bytes(b"1,2\n3,4\n")
        elif shape == "loop":
            folder.symlink_to(name)
        elif shape == "folder":
            folder.mkdir()
            for i, (kind, content) in enumerate(entries):
                path = folder / f"r{i}.{'txt' if i % 2 else 'csv'}"
                if kind == "folder":
                    path.mkdir()
                elif kind == "loop":
                    path.symlink_to(path.name)
                elif kind == "dangling":
                    path.symlink_to("gone.csv")
                elif kind == "hidden":
                    (folder / f".r{i}.csv").write_bytes(content)  # skipped by design
                elif kind == "other":
                    (folder / f"r{i}.md").write_bytes(content)  # not a recording
                else:
                    path.write_bytes(content)
                    files.append((label, path))
    info = spec["json"]
    if info == "folder":
        (root / "dataset.json").mkdir()
    elif info == "loop":
        (root / "dataset.json").symlink_to("dataset.json")
    elif info is not None:
        (root / "dataset.json").write_bytes(info)
    return sorted(files)


def digest_of(root: Path, spec: dict) -> str:
    parts = [json.dumps(spec[k][0]) + repr(spec[k][1]) for k in ("left", "right")]
    return hashlib.sha256((repr(parts) + repr(spec["json"])).encode()).hexdigest()


@settings(FUZZ, max_examples=EXAMPLES or 60)
@given(dataset_specs(), st.booleans())
def test_a_dataset_folder_loads_right_or_is_refused_naming_a_path_in_it(spec, require_both):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        files = build(root, spec)
        refused = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PartialLineWarning)
            try:
                dataset = load_dataset(root, require_both=require_both)
            except DataError as exc:
                refused = True
                assert_one_line_naming(str(exc), root)
            else:
                got = [(r.label, r.path) for r in dataset.recordings]
                assert sorted(got) == files  # every recording file, none lost
                for rec in dataset.recordings:
                    again = read_recording(rec.path)
                    assert np.array_equal(again.xy, rec.xy) and np.array_equal(again.t, rec.t)
                info = spec["json"]
                expected_info = {} if info is None else json.loads(info)
                assert json.dumps(dataset.info) == json.dumps(expected_info)
        tally("dataset", digest_of(root, spec).encode(), refused)


@FUZZ
@given(st.one_of(st.binary(max_size=80), json_documents()))
def test_dataset_json_is_an_object_or_one_data_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dataset.json"
        path.write_bytes(data)
        try:
            info = read_dataset_info(tmp)
        except DataError as exc:
            assert_one_line_naming(str(exc), path)
            tally("dataset.json", data, True)
            return
    assert info == json.loads(data.decode("utf-8")) or json.dumps(info) == json.dumps(
        json.loads(data.decode("utf-8")))  # NaN != NaN
    assert isinstance(info, dict)
    tally("dataset.json", data, False)


# ---- the command line ---------------------------------------------------------------------

BAD_FOLDERS = {
    "binary recording": {"left/a.csv": b"\xff\xfe\x00garbage", "right/b.csv": b"1,2\n3,4\n"},
    "NaN in a recording": {"left/a.csv": b"t,x,y\n0,1,2\n0.01,nan,2\n",
                           "right/b.csv": b"1,2\n3,4\n"},
    "time going back": {"left/a.csv": b"t,x,y\n0,1,2\n0.02,1,2\n0.01,3,4\n",
                        "right/b.csv": b"1,2\n3,4\n"},
    "deeply nested dataset.json": {"left/a.csv": b"1,2\n3,4\n", "right/b.csv": b"1,2\n3,4\n",
                                   "dataset.json": b"[" * 100_000},
    "a folder named like a recording": {"left/a.csv/": b"", "right/b.csv": b"1,2\n3,4\n"},
    "a line without end": {"left/a.csv": b"1,2\n" + b"5" * (4 * MAX_LINE_BYTES),
                           "right/b.csv": b"1,2\n3,4\n"},
}


def make_folder(root: Path, layout: dict[str, bytes]) -> Path:
    for name, content in layout.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir()
        else:
            path.write_bytes(content)
    return root


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_the_cli_refuses_bad_datasets_with_one_line(tmp_path, case):
    root = make_folder(tmp_path / "data", BAD_FOLDERS[case])
    assert_clean_error(cli("data", "inspect", root, "--out", tmp_path / "inspect"))
    assert_clean_error(cli("train", root, "--out", tmp_path / "run", *TINY_ARGS))
    tally("cli", case.encode(), True)


def test_the_entry_point_refuses_a_looping_recording_with_one_line(tmp_path):
    root = make_folder(tmp_path / "data", {"right/b.csv": b"1,2\n3,4\n"})
    (root / "left").mkdir()
    (root / "left" / "a.csv").symlink_to("a.csv")
    assert_clean_error(entry_point("data", "inspect", root), "a.csv")
    tally("cli", b"looping recording", True)


def test_zz_fuzzing_tried_many_distinct_inputs():
    """Runs last in this file: how many distinct inputs the readers were given (``-s`` prints
    it), so a strategy that quietly stops generating is noticed."""
    n, refused = len(TRIED["inputs"]), len(TRIED["refused"])
    if n == 0:
        pytest.skip("run with the other tests of this file")
    print(f"\nfuzzed the readers with {n} distinct inputs, {refused} of them refused with a "
          "DataError, none with another exception")
    assert n >= 500 and refused >= 200
