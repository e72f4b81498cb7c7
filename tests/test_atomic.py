"""Writers: one per output folder, and sets of files that replace the previous set whole."""

from __future__ import annotations

import pytest

from deepmouse.atomic import FolderBusyError, folder_lock, staged_files, write_atomic


def test_a_second_writer_to_a_folder_is_refused_until_the_first_is_done(tmp_path):
    with folder_lock(tmp_path / "out"):
        with pytest.raises(FolderBusyError, match="another deepmouse command"):
            with folder_lock(tmp_path / "out"):
                pass
    with folder_lock(tmp_path / "out"):  # released: free again
        pass


def test_a_folder_the_lock_created_is_removed_if_nothing_was_written(tmp_path):
    with folder_lock(tmp_path / "empty"):
        pass
    assert not (tmp_path / "empty").exists()
    with folder_lock(tmp_path / "used") as out:
        write_atomic(out / "a.txt", "a")
    assert (tmp_path / "used" / "a.txt").read_text() == "a"


def test_staged_files_replace_the_previous_set_whole(tmp_path):
    with staged_files(tmp_path, replaces=("a.txt", "b.txt")) as stage:
        write_atomic(stage / "a.txt", "first a")
        write_atomic(stage / "b.txt", "first b")
    with staged_files(tmp_path, replaces=("a.txt", "b.txt")) as stage:
        write_atomic(stage / "a.txt", "second a")  # this set has no b.txt
    assert (tmp_path / "a.txt").read_text() == "second a"
    assert not (tmp_path / "b.txt").exists()  # no stale file of the previous set beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_staged_files_that_fail_leave_the_previous_set_as_it_was(tmp_path):
    with staged_files(tmp_path, replaces=("a.txt",)) as stage:
        write_atomic(stage / "a.txt", "first")
    with pytest.raises(OSError), staged_files(tmp_path, replaces=("a.txt",)) as stage:
        write_atomic(stage / "a.txt", "second")
        raise OSError("disk full")
    assert (tmp_path / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
