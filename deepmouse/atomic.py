"""Atomic file writes, and one writer per output folder.

A file is either its complete new content or its previous one.

Every writer of deepmouse goes through here. The content goes to a hidden temporary file in the
same folder, is flushed and fsync-ed, and only then renamed over the target (``os.replace`` is
atomic on POSIX and Windows), so a crash, a kill or a full disk never leaves a half-written
file under the real name.

A command that writes a folder of results (a run, a sweep, a tune) holds :func:`folder_lock` on
it, so two commands given the same ``--out`` cannot interleave their files: the second is
refused. The lock is the kernel's (``flock``), released when its holder ends however it ends,
so a crashed or killed command never leaves the folder stuck.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from safetensors import SafetensorError

LOCK_FILE = ".deepmouse.lock"


class FolderBusyError(ValueError):
    """Another command is writing to the same output folder."""


class WriteError(OSError):
    """A file could not be written (full disk, file size limit, permissions); the message names
    it, and its previous content is untouched."""

    def __str__(self) -> str:
        return str(self.strerror)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; move it into place on exit.

    For writers that take a file name (safetensors, matplotlib). The temporary file is fsync-ed
    before the rename, and removed if the block raises.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    except SafetensorError as exc:  # safetensors reports the OS's write errors as its own
        reason = str(exc).removeprefix("Error while serializing: ").removeprefix("I/O error: ")
        raise WriteError(errno.EIO, f"cannot write {path}: {reason}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; return the path.

    Raises:
        WriteError: the file could not be written (its previous content is kept).
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return path


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for one writer while the block runs.

    A folder this call created is removed again if the block leaves nothing in it (a command
    that failed before writing anything leaves no empty folder behind).

    Raises:
        FolderBusyError: another process holds it.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderBusyError(
            f"{folder}: another deepmouse command is writing to this folder; wait for it to "
            "finish or choose another --out"
        ) from None
    try:
        yield folder
    finally:
        # while still holding the lock, so that no other process can have taken it
        if created and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
            (folder / LOCK_FILE).unlink(missing_ok=True)
            folder.rmdir()
        lock.release()


@contextlib.contextmanager
def staged_files(folder: str | os.PathLike, replaces: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a hidden staging folder inside ``folder`` for a set of files that belong together.

    When the block ends, every file written to the staging folder is moved into ``folder``
    (renames, which need no disk space), and the files named in ``replaces`` that the block did
    not write are removed (they belonged to the previous set); if it raises (a full disk halfway
    through), the staging folder is removed and ``folder``'s previous files are left as they
    were.
    """
    import shutil

    stage = Path(folder) / ".staging"
    shutil.rmtree(stage, ignore_errors=True)  # left by a killed command
    stage.mkdir(parents=True)
    try:
        yield stage
        written = {staged.name for staged in stage.iterdir()}
        for name in sorted(written):
            os.replace(stage / name, Path(folder) / name)
        for name in set(replaces) - written:
            (Path(folder) / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
