"""A full disk while writing a run folder, a model or a recording: one clear line, exit status
2, the previous files intact and nothing half-written.

The disk fills up for real, as far as the process can tell: each command runs in a subprocess
whose largest writable file is capped (``RLIMIT_FSIZE``; Python ignores ``SIGXFSZ``, so a
write past the cap fails with ``EFBIG`` exactly where a full disk fails with ``ENOSPC``).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import TINY_ARGS, assert_clean_error
from xserver import XServer, require_x

from deepmouse.recordings import read_recording


def run_with_file_size_limit(limit: int, *args, env: dict | None = None):
    """``python -m deepmouse ARGS`` in a process that cannot write a file past ``limit`` bytes."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return subprocess.run([sys.executable, "-m", "deepmouse", *map(str, args)],
                          capture_output=True, text=True, env=env, preexec_fn=cap, timeout=300)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("limit", [1_000, 20_000],
                         ids=["full while training (checkpoint)", "full while writing figures"])
def test_full_disk_while_training_leaves_the_previous_run_folder_as_it_was(
        limit, synth_dataset, tmp_path):
    out = tmp_path / "run"
    first = subprocess.run([sys.executable, "-m", "deepmouse", "train", synth_dataset, "--out",
                            out, *TINY_ARGS, "--json"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    assert {"model.safetensors", "metrics.json", "curves.png"} <= set(before)

    again = run_with_file_size_limit(limit, "train", synth_dataset, "--out", out, *TINY_ARGS,
                                     "--seed", "1", "--json")
    assert_clean_error(again, "cannot write", "File too large")
    after = snapshot(out)
    # the training checkpoint (complete, or not there) is all that may be new: with space
    # freed, --resume trains only the epochs after it
    checkpoint = after.pop("checkpoint.safetensors", None)
    assert after == before  # not one file of the run changed, added or left half-written
    assert not (out / ".staging").exists()  # not even an empty staging folder
    if checkpoint is not None:
        resumed = subprocess.run([sys.executable, "-m", "deepmouse", "train", synth_dataset,
                                  "--out", out, *TINY_ARGS, "--seed", "1", "--resume", "--json"],
                                 capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        assert snapshot(out)["model.safetensors"] != before["model.safetensors"]
        assert "checkpoint.safetensors" not in snapshot(out)


def test_full_disk_while_recording_stops_and_keeps_the_whole_lines(tmp_path):
    require_x()
    with XServer() as xserver:
        result = run_with_file_size_limit(4_000, "record", tmp_path, "--hand", "left",
                                          "--seconds", "30", "--json", env=xserver.env())
    assert_clean_error(result, "cannot write", "File too large", "samples before it are kept")
    (path,) = (tmp_path / "left").glob("*.csv")
    assert path.read_bytes().endswith(b"\n")  # whole lines only
    kept = int(result.stderr.split("the ")[-1].split(" samples")[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a partial last line would warn
        recording = read_recording(path)
    assert recording.n_samples == kept > 50
