"""Per-update latency of the live predictor (:class:`deepmouse.live.StreamingPredictor`).

One update = cut the current window from the ring buffer, check it is active, run the model on
it (``predict_proba_one``, the model's one-window path) and update the sequential decision's
posterior (:class:`deepmouse.decision.SequentialDecision`, up to its full set of segment
lengths). It
happens every ``hop`` seconds while the cursor is polled every 10 ms, so it must stay far below
10 ms; the goal is p99 under 2 ms on one core.

The model is the default of ``deepmouse train`` (``HandClassifier()``: stroke-cnn,
2-second windows at 100 Hz) or another family's default architecture (``--family``), trained for
one epoch on synthetic data (latency depends on the architecture, not on how well it is
trained), or any model file (``--model``).
Samples come from a synthetic recording, pushed as fast as possible; the update latency is
measured inside the predictor (``Update.latency_ms``, wall clock), its CPU time (thread time,
which leaves out time the OS gave to other processes) and the push cost of samples that complete
no window separately. Torch runs with one thread, and the process is pinned to one CPU where the OS
allows it.

Usage::

    python benchmarks/live_latency.py [--model PATH] [--updates 2000] [--json]
    python benchmarks/live_latency.py --xvfb-record 30 [--json]   # recorder timing on Xvfb
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def default_model(folder: Path, family: str = "default") -> Path:
    """The default architecture of ``family``, trained one epoch on 4 minutes of synthetic data."""
    from deepmouse.classifier import HandClassifier
    from deepmouse.decision import DecisionModel
    from deepmouse.modelfile import save_model
    from deepmouse.recordings import load_dataset
    from deepmouse.synth import synthesize_dataset
    from deepmouse.windows import WindowConfig, make_splits

    data = synthesize_dataset(folder / "data", minutes=4, seed=0)
    config = WindowConfig()
    splits = make_splits(load_dataset(data), config)
    clf = HandClassifier() if family == "default" else HandClassifier(family)
    quick = {"epochs": 1, "device": "cpu", "threads": 1}  # where the family takes them
    clf.set_params(seed=0, **{k: v for k, v in quick.items() if k in clf.get_params()})
    clf.fit(splits.train.X, splits.train.y)
    # constants of the usual size: the posterior's cost does not depend on their values
    decision = DecisionModel(mu=1.0, sigma2=4.0, tau2=0.2)
    return save_model(folder / "model.safetensors", clf, config, decision=decision)


def xvfb_record(seconds: float, rate: float = 100.0) -> dict:
    """Record ``seconds`` of the pointer on a fresh Xvfb while xdotool moves it; the summary.

    Needs ``Xvfb`` and ``xdotool`` (``apt-get install -y xvfb xdotool``).
    """
    import select
    import shutil
    import subprocess

    from deepmouse.record import record
    from deepmouse.recordings import DEFAULT_SCREEN

    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} is not installed (apt-get install -y xvfb xdotool)")
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
         "{}x{}x24".format(*DEFAULT_SCREEN), "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    mover = None
    try:
        if not select.select([read_fd], [], [], 10)[0]:
            raise SystemExit("error: Xvfb did not start")
        display = ":" + os.read(read_fd, 64).decode().strip()
        os.environ["DISPLAY"] = display
        steps = int(seconds / 0.02) + 100
        args = ["xdotool"]
        for i in range(steps):  # a zigzag over the screen, one move every 20 ms
            args += ["mousemove", str(200 + (i * 37) % 1100), str(100 + (i * 23) % 600),
                     "sleep", "0.02"]
        mover = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with tempfile.TemporaryDirectory() as tmp:
            summary = record(Path(tmp), "left", seconds=seconds, rate=rate).to_dict()
    finally:
        os.close(read_fd)
        if mover is not None:
            mover.kill()
            mover.wait()
        xvfb.terminate()
        xvfb.wait()
    summary.pop("path")
    summary["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    summary["cpus"] = os.cpu_count()
    return summary


def time_decision(window_seconds: float, weight: float, updates: int) -> list[float]:
    """Milliseconds of each of ``updates`` posterior updates alone, on synthetic log-odds, past
    the point where the filter holds its full set of segment lengths."""
    from deepmouse.decision import MAX_SEGMENTS, DecisionModel, SequentialDecision

    stream = SequentialDecision(DecisionModel(mu=1.0, sigma2=4.0, tau2=0.2), window_seconds)
    z = np.random.default_rng(0).normal(1.0, 2.0, MAX_SEGMENTS + updates)
    out = []
    for k, value in enumerate(z.tolist()):
        began = time.perf_counter()
        stream.update(value, weight)
        if k >= MAX_SEGMENTS:
            out.append((time.perf_counter() - began) * 1e3)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {
        "n": int(len(a)),
        "mean_ms": float(a.mean()),
        "p50_ms": float(np.percentile(a, 50)),
        "p90_ms": float(np.percentile(a, 90)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: train the default "
                        "architecture for one epoch on synthetic data)")
    parser.add_argument("--family", default="default",
                        help="without --model: the family to train (default: the default model "
                        "of deepmouse train; conv-gru, gru, lstm, svm)")
    parser.add_argument("--updates", type=int, default=2000, help="updates to time")
    parser.add_argument("--warmup", type=int, default=50, help="updates not timed")
    parser.add_argument("--hop", type=float, default=0.05,
                        help="seconds between updates (the work per update does not depend on "
                        "it; a short hop gives many updates from a short stream)")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: the "
                        "last one)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument("--xvfb-record", type=float, metavar="SECONDS", default=None,
                        help="instead: record SECONDS of the pointer at 100 Hz on a fresh Xvfb "
                        "(xdotool moving it) and report achieved rate and interval p99")
    args = parser.parse_args(argv)
    if args.xvfb_record is not None:
        summary = xvfb_record(args.xvfb_record)
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"recorded {summary['samples']} samples in {summary['duration']:.2f} s on Xvfb: "
                  f"{summary['achieved_rate']:.2f} Hz achieved (100 Hz asked), interval mean "
                  f"{summary['interval_mean_ms']:.3f} ms, p99 {summary['interval_p99_ms']:.3f} ms, "
                  f"max {summary['interval_max_ms']:.3f} ms, {summary['spikes']} delay spikes; "
                  f"load average {summary['load_average']} on {summary['cpus']} CPUs")
        return 0

    import torch

    from deepmouse.live import StreamingPredictor
    from deepmouse.modelfile import load_model
    from deepmouse.synth import synthesize_recording

    torch.set_num_threads(1)
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        pinned = args.cpu if args.cpu is not None else cpus[-1]
        os.sched_setaffinity(0, {pinned})

    with tempfile.TemporaryDirectory() as tmp:
        if args.model is None:
            if not args.json:
                print("training the default architecture for one epoch on synthetic data...",
                      file=sys.stderr)
            model_file = default_model(Path(tmp), args.family)
        else:
            model_file = args.model
        model = load_model(model_file)

    predictor = StreamingPredictor(model, hop=args.hop)
    cfg = model.window_config
    needed = args.warmup + args.updates
    seconds = cfg.seconds + needed * predictor.hop + 1.0
    t, xy = synthesize_recording("left", seconds, seed=1, rate=cfg.rate)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    update_ms: list[float] = []
    update_cpu_ms: list[float] = []
    active_ms: list[float] = []
    push_ms: list[float] = []
    seen = 0
    for ti, (x, y) in zip(t.tolist(), xy.tolist(), strict=True):
        began = time.perf_counter()
        cpu_began = time.thread_time()
        updates = predictor.push(ti, x, y)
        cpu = (time.thread_time() - cpu_began) * 1e3
        elapsed = (time.perf_counter() - began) * 1e3
        if not updates:
            push_ms.append(elapsed)
        for u in updates:
            seen += 1
            if seen > args.warmup:
                update_ms.append(u.latency_ms)
                update_cpu_ms.append(cpu)
                if not u.idle:
                    active_ms.append(u.latency_ms)
        if seen >= needed:
            break
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    decision_ms = time_decision(cfg.seconds, predictor.hop_steps / cfg.window, args.updates)

    result = {
        "benchmark": "live_latency",
        "model": str(args.model) if args.model else f"{args.family} architecture",
        "params": model.classifier.resolved_params() | {"family": model.classifier.family},
        "window": cfg.window,
        "rate": cfg.rate,
        "hop_s": predictor.hop,
        "update": percentiles(update_ms),
        "update_cpu": percentiles(update_cpu_ms),
        "active_update": percentiles(active_ms) if active_ms else None,
        "push_without_update": percentiles(push_ms),
        "decision_update": percentiles(decision_ms),
        "threads": torch.get_num_threads(),
        "pinned_cpu": pinned,
        "cpus": os.cpu_count(),
        "load_average": [load_before, load_after],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        u = result["update"]
        print(f"{u['n']} updates of {cfg.window}-step windows on CPU {pinned}, 1 thread: "
              f"p50 {u['p50_ms']:.3f} ms, p99 {u['p99_ms']:.3f} ms, max {u['max_ms']:.3f} ms")
        c = result["update_cpu"]
        print(f"CPU time per update (excludes time preempted by other processes): "
              f"p50 {c['p50_ms']:.3f} ms, p99 {c['p99_ms']:.3f} ms")
        p = result["push_without_update"]
        print(f"push of a sample that completes no window: p50 {p['p50_ms'] * 1e3:.1f} us, "
              f"p99 {p['p99_ms'] * 1e3:.1f} us")
        d = result["decision_update"]
        print(f"of which the posterior (SequentialDecision.update alone): p50 "
              f"{d['p50_ms']:.3f} ms, p99 {d['p99_ms']:.3f} ms")
        print(f"load average {load_before} -> {load_after} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
