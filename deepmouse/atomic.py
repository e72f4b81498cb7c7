"""Atomic file writes: a file is either its complete new content or its previous one.

Every writer of deepmouse goes through here. The content goes to a hidden temporary file in the
same folder, is flushed and fsync-ed, and only then renamed over the target (``os.replace`` is
atomic on POSIX and Windows), so a crash, a kill or a full disk never leaves a half-written
file under the real name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


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
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically; return the path."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return path
