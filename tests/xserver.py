"""A real X server for tests: Xvfb on a free display, the pointer moved with xdotool.

Usage::

    with XServer() as x:          # Xvfb -displayfd picks a free display number
        env = x.env()             # os.environ with DISPLAY set
        x.move_path([(10, 20), (30, 40)], hold=0.1)

:func:`require_x` skips a test when Xvfb or xdotool is missing, unless the environment
variable ``DEEPMOUSE_REQUIRE_X=1`` is set (CI), in which case it fails.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Sequence

import pytest

from deepmouse.recordings import DEFAULT_SCREEN

SCREEN = DEFAULT_SCREEN


def require_x() -> None:
    """Skip (or fail under ``DEEPMOUSE_REQUIRE_X=1``) when Xvfb or xdotool is missing."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed (apt-get install -y xvfb xdotool)"
    if os.environ.get("DEEPMOUSE_REQUIRE_X") == "1":
        pytest.fail(f"DEEPMOUSE_REQUIRE_X=1 but {reason}")
    pytest.skip(reason)


class XServer:
    """Xvfb on a free display (chosen by Xvfb itself through ``-displayfd``)."""

    def __init__(self, screen: tuple[int, int] = SCREEN, timeout: float = 10.0) -> None:
        self.screen = screen
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def start(self) -> XServer:
        read_fd, write_fd = os.pipe()
        w, h = self.screen
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        data = b""
        deadline = time.monotonic() + self.timeout
        try:
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([read_fd], [], [], max(left, 0))
                if not ready:
                    raise RuntimeError(f"Xvfb did not report a display within {self.timeout} s")
                chunk = os.read(read_fd, 64)
                if not chunk:
                    raise RuntimeError(f"Xvfb exited early (status {self.proc.poll()})")
                data += chunk
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
        self.display = f":{int(data.strip())}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> XServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """A copy of ``os.environ`` with ``DISPLAY`` pointing at this server."""
        env = dict(os.environ)
        env["DISPLAY"] = self.display
        env.update(extra)
        return env

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env(), check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def move(self, x: int, y: int) -> None:
        self.xdotool("mousemove", str(x), str(y))

    def position(self) -> tuple[int, int]:
        out = subprocess.run(["xdotool", "getmouselocation", "--shell"], env=self.env(),
                             check=True, capture_output=True, text=True, timeout=10).stdout
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["X"]), int(values["Y"])

    def path_command(self, points: Sequence[tuple[int, int]], hold: float) -> list[str]:
        """One xdotool command line that visits ``points``, holding each for ``hold`` s."""
        args = ["xdotool"]
        for x, y in points:
            args += ["mousemove", str(x), str(y), "sleep", f"{hold:g}"]
        return args

    def move_path(self, points: Sequence[tuple[int, int]], hold: float) -> None:
        """Visit ``points`` in order (one xdotool process), holding each ``hold`` seconds."""
        subprocess.run(self.path_command(points, hold), env=self.env(), check=True,
                       timeout=60 + len(points) * hold, stdout=subprocess.DEVNULL)

    def start_path(self, points: Sequence[tuple[int, int]], hold: float) -> subprocess.Popen:
        """Like :meth:`move_path` but in the background; wait on the returned process."""
        return subprocess.Popen(self.path_command(points, hold), env=self.env(),
                                stdout=subprocess.DEVNULL)


def scripted_path(n: int, seed: int = 0, screen: tuple[int, int] = SCREEN,
                  margin: int = 20) -> list[tuple[int, int]]:
    """``n`` distinct, consecutive-different points inside the screen (deterministic)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    points: list[tuple[int, int]] = []
    while len(points) < n:
        p = (int(rng.integers(margin, screen[0] - margin)),
             int(rng.integers(margin, screen[1] - margin)))
        if p not in points:
            points.append(p)
    return points
