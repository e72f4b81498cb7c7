"""MiniRocket's features of one window: aeon's transform against deepmouse's compiled pass.

``live`` scores one window per update. aeon's transform (``rocket_features``) is written for
batches; ``deepmouse.families.minirocket_one.one_window_features`` computes the same features
for one window. Both are timed alternately in one process, in CPU time (thread time), pinned to
one core, on a rocket model fitted to random windows (the cost depends on the number of
features and the window, not on the fit). JSON on stdout.

    python benchmarks/minirocket_window.py [--repeats 400] [--rounds 3] [--kernels 10000]
        [--no-pin]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_ms(call, repeats: int) -> list[float]:
    """CPU milliseconds of each of ``repeats`` calls."""
    out = []
    for _ in range(repeats):
        began = time.thread_time()
        call()
        out.append((time.thread_time() - began) * 1e3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=400, help="calls timed per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--kernels", type=int, default=10_000, help="MiniRocket features")
    parser.add_argument("--window", type=int, default=200, help="steps per window")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to the last CPU")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and not args.no_pin:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

    from aeon.transformations.collection.convolution_based._minirocket import MiniRocket

    from deepmouse.families import get_family
    from deepmouse.families.minirocket_one import one_window_features
    from deepmouse.families.rocket import PARAMETER_NAMES, rocket_features, rocket_input

    family = get_family("rocket")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, args.window, 2)).astype(np.float32)
    state = family.fit(X, np.arange(300) % 2, family.parameters() | {"n_kernels": args.kernels})
    parameters = tuple(state.arrays[name] for name in PARAMETER_NAMES)
    one = X[:1]

    def aeon() -> np.ndarray:
        return rocket_features(state.arrays, one)[0]

    def compiled() -> np.ndarray:
        return one_window_features(rocket_input(one)[0], *parameters, MiniRocket._indices)

    same = bool(np.array_equal(aeon(), compiled()))  # also compiles both before timing
    rounds = []
    for _ in range(args.rounds):
        row = {}
        for name, call in (("aeon", aeon), ("compiled", compiled)):
            times = cpu_ms(call, args.repeats)
            row[name] = {"p50_ms": float(np.percentile(times, 50)),
                         "p99_ms": float(np.percentile(times, 99))}
        rounds.append(row)
    print(json.dumps({
        "benchmark": "minirocket_window", "features": len(state.arrays["coef"]),
        "window": args.window, "identical_features": same, "rounds": rounds,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
