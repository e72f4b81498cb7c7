"""A real, throwaway PostgreSQL server on the loopback address for the tests.

Started from the system's PostgreSQL binaries (Debian's ``postgresql`` package, which
``.ci/run`` installs): ``initdb`` in a temporary folder, ``pg_ctl start`` on a free port of
127.0.0.1, a ``deepmouse`` database; stopped and removed afterwards. PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` user. ``DEEPMOUSE_PG_URL`` points
the tests at a server of your own instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (PATH first, then Debian's versioned folders)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # Debian links some tools into PATH, not all
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name))
    return Path(versions[-1]).parent if versions else None


def require_postgres() -> None:
    """Skip (or fail under ``DEEPMOUSE_REQUIRE_PG=1``) when no PostgreSQL can be had."""
    if os.environ.get("DEEPMOUSE_PG_URL") or postgres_bin() is not None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg not installed (pip install 'deepmouse[postgres]')"
        else:
            return
    else:
        reason = "PostgreSQL not installed (apt-get install -y postgresql)"
    if os.environ.get("DEEPMOUSE_REQUIRE_PG") == "1":
        pytest.fail(f"DEEPMOUSE_REQUIRE_PG=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """``with PostgresServer() as url:`` a fresh database at ``url`` (a SQLAlchemy URL)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.command_prefix: list[str] = []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.command_prefix, *args], check=True, capture_output=True,
                       timeout=120)

    def __enter__(self) -> str:
        if os.environ.get("DEEPMOUSE_PG_URL"):
            return os.environ["DEEPMOUSE_PG_URL"]
        binaries = postgres_bin()
        assert binaries is not None
        # in /tmp, which the postgres user can enter whatever TMPDIR says
        self.folder = Path(tempfile.mkdtemp(prefix="deepmouse-pg-", dir="/tmp"))
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            shutil.chown(self.folder, "postgres")
            self.command_prefix = ["runuser", "-u", "postgres", "--"]
        data, port = self.folder / "data", free_port()
        self._run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "deepmouse")
        self._run(str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l",
                  str(self.folder / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {self.folder}",
                  "start")
        self.stop_command = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate",
                             "stop"]
        self._run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                  "deepmouse", "deepmouse")
        return f"postgresql://deepmouse@127.0.0.1:{port}/deepmouse"

    def __exit__(self, *exc) -> None:
        if self.folder is None:
            return
        try:
            self._run(*self.stop_command)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
