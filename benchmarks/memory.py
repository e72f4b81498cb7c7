"""Peak memory and wall time of reading and windowing one huge recording.

A synthetic recording of ``--rows`` samples (default 10 million: about 28 hours at 100 Hz) is
written to a temporary folder in both recording formats: ``t,x,y`` with a header (as
``deepmouse record`` writes it: jittered ~10 ms polling, 4 decimals of time) and headerless
``x,y`` (integer pixels, as the DeepMouse files). The cursor wanders over the screen with idle
pauses, so the idle filter has work to do.

Each file is then measured in a fresh Python process (so nothing of the generator or of the other
file counts): the peak resident set size (``ru_maxrss``) after the imports (the baseline), after
:func:`deepmouse.recordings.read_recording`, and after windowing with the default
:class:`~deepmouse.windows.WindowConfig` (``make_splits``, the ``chrono`` split of
``deepmouse train``, on a dataset of the huge recording as ``left`` and one minute of the other
hand as ``right``), with the wall time of each step. The memory a step adds is its peak minus
the baseline.

Usage::

    python benchmarks/memory.py [--rows 10000000] [--formats txy,xy] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FORMATS = ("txy", "xy")
"""``t,x,y`` with a header, and headerless ``x,y``."""
BLOCK_ROWS = 1_000_000
"""Rows generated and written at a time (keeps the generator's own memory small)."""


def write_huge_recording(path: Path, rows: int, fmt: str, seed: int = 0) -> Path:
    """Write a synthetic recording of ``rows`` samples in format ``fmt`` (``txy`` or ``xy``)."""
    rng = np.random.default_rng(seed)
    pos = np.array([768.0, 432.0])
    t_end = 0.0
    with open(path, "w", encoding="ascii") as f:
        if fmt == "txy":
            f.write("t,x,y\n")
        for begin in range(0, rows, BLOCK_ROWS):
            n = min(BLOCK_ROWS, rows - begin)
            steps = rng.normal(0.0, 3.0, size=(n, 2))
            # idle pauses: 3 s of stillness every 10 s
            idle = (np.arange(begin, begin + n) % 1000) >= 700
            steps[idle] = 0.0
            xy = np.clip(pos + np.cumsum(steps, axis=0), 0, [1535, 863])
            pos = xy[-1]
            if fmt == "txy":
                t = t_end + np.cumsum(rng.uniform(0.009, 0.011, n))
                t_end = t[-1]
                f.writelines(f"{a:.4f},{b:.6g},{c:.6g}\n"
                             for a, b, c in zip(t.tolist(), *xy.T.tolist(), strict=True))
            else:
                xy = np.rint(xy).astype(np.int64)
                f.writelines(f"{b},{c}\n" for b, c in zip(*xy.T.tolist(), strict=True))
    return path


def ru_maxrss_mb() -> float:
    """``ru_maxrss`` of this process, MiB (KiB on Linux, bytes on macOS). On Linux it also
    counts the parent's memory when the child was started by vfork (as ``subprocess`` does), so
    :func:`peak_rss_mb` prefers the kernel's own high-water mark of this process."""
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MiB (``None`` where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB: ``VmHWM`` on Linux, else ``ru_maxrss``."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else ru_maxrss_mb()


def current_rss_mb() -> float | None:
    """Resident set size of this process now, MiB (Linux only; ``None`` elsewhere)."""
    return _status_mb("VmRSS")


def reset_peak() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0: ``5 > /proc/self/clear_refs``), so
    the next step's own peak can be read; whether it could."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(path: Path, other: Path, window: bool) -> dict:
    """Measure one file in this (fresh) process: imports, read, windows."""
    began = time.perf_counter()
    from deepmouse.recordings import Dataset, read_recording
    from deepmouse.windows import WindowConfig, make_splits

    out = {"import_s": time.perf_counter() - began, "baseline_rss_mb": current_rss_mb(),
           "baseline_ru_maxrss_mb": ru_maxrss_mb()}
    small = read_recording(other, label=0)
    out["peak_reset"] = reset_peak()
    began = time.perf_counter()
    rec = read_recording(path, label=1)
    out["read_s"] = time.perf_counter() - began
    out["read_peak_rss_mb"] = peak_rss_mb()
    out["read_ru_maxrss_mb"] = ru_maxrss_mb()
    out["rss_after_read_mb"] = current_rss_mb()
    out["samples"] = rec.n_samples
    out["recording_mb"] = (rec.t.nbytes + rec.xy.nbytes) / 2**20
    if window:
        dataset = Dataset(root=path.parent, recordings=[small, rec])
        reset_peak()
        began = time.perf_counter()
        splits = make_splits(dataset, WindowConfig(), "chrono")
        out["window_s"] = time.perf_counter() - began
        out["window_peak_rss_mb"] = peak_rss_mb()
        out["window_ru_maxrss_mb"] = ru_maxrss_mb()
        out["windows"] = {name: len(getattr(splits, name)) for name in ("train", "dev", "test")}
        out["windows_mb"] = sum(getattr(splits, name).X.nbytes
                                for name in ("train", "dev", "test")) / 2**20
    return out


def measure(path: Path, other: Path, window: bool) -> dict:
    """Run :func:`child` on ``path`` in a fresh interpreter; its result."""
    cmd = [sys.executable, __file__, "--child", str(path), "--other", str(other)]
    if not window:
        cmd.append("--no-window")
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: the measuring process failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - began
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="samples in the recording")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="comma-separated formats to measure: txy (t,x,y with a header), "
                        "xy (headerless x,y)")
    parser.add_argument("--no-window", action="store_true", help="measure reading only")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--other", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.other, not args.no_window)))
        return 0

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown format(s) {', '.join(unknown)} (expected {', '.join(FORMATS)})")
    result: dict = {
        "benchmark": "memory",
        "rows": args.rows,
        "formats": {},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        other = write_huge_recording(folder / "other.csv", 6000, "txy", seed=1)
        for fmt in formats:
            if not args.json:
                print(f"writing {args.rows:,} rows as {fmt}...", file=sys.stderr)
            began = time.perf_counter()
            path = write_huge_recording(folder / f"huge_{fmt}.csv", args.rows, fmt)
            generate_s = time.perf_counter() - began
            entry = {"file_mb": path.stat().st_size / 2**20, "generate_s": generate_s}
            entry |= measure(path, other, not args.no_window)
            result["formats"][fmt] = entry
            path.unlink()
    text = json.dumps(result)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for fmt, e in result["formats"].items():
            line = (f"{fmt}: {e['samples']:,} samples ({e['file_mb']:.0f} MiB file): baseline "
                    f"{e['baseline_rss_mb']:.0f} MiB; read {e['read_s']:.1f} s, peak "
                    f"{e['read_peak_rss_mb']:.0f} MiB")
            if "window_s" in e:
                line += (f"; windows {e['window_s']:.1f} s, peak {e['window_peak_rss_mb']:.0f} "
                         f"MiB ({sum(e['windows'].values()):,} windows)")
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
