"""What a SIGKILL at a random moment costs each long job, over many trials.

Each trial starts one job as ``python -m deepmouse ...`` in its own process, kills it with
SIGKILL at a moment drawn from a seeded generator (``--seed``), runs it again where the job
resumes, and measures what the kill lost and what it made the job do twice:

- ``record``, on a fresh Xvfb while xdotool moves the pointer all the time (so samples
  change): killed 1-5 s after its recording file appears (the file is created just before the
  first sample, and watched every few milliseconds). **Lost seconds** = time from the file's
  appearance to the kill, less the last ``t`` on disk: the samples the kill took with it. The
  file must read with :func:`deepmouse.recordings.read_recording`; a partial last line (only a
  warning there) is counted.
- ``train``, a tiny GRU on synthetic data (``deepmouse data synth``, made once): killed at a
  random moment between its first checkpoint and the time an uninterrupted run of the same
  command took to finish, then run again with ``--resume``. **Lost**: the resumed model's
  probabilities on every window differ from the uninterrupted run's (bit for bit), or its
  per-epoch history does. **Epochs recomputed**: epochs done before the kill (those in the
  checkpoint just before it, or all of them once the run folder is complete) less the epochs
  the resumed run skips (those in the checkpoint left by the kill).
- ``sweep``: killed after a random number of finished rows of ``sweep.csv`` plus a random
  delay of up to one trial's time, then run again. **Lost**: rows on disk at the kill missing
  or changed afterwards, and history rows missing; **repeated**: duplicate (params, seed) rows
  and duplicate history rows. The summary is compared with an uninterrupted sweep.
- ``tune``: killed after a random number of COMPLETE trials plus a random delay of up to one
  trial's time, then run again. **Lost**: trials COMPLETE at the kill missing afterwards (same
  number, parameters and value); **repeated**: duplicate parameter sets among COMPLETE trials;
  the study must end with exactly its ``--trials`` COMPLETE trials.

For ``sweep`` and ``tune`` the random count starts once the job holds its output folder (after
its imports and data preparation), so kills land in the work, not in the start-up.
``work_lost_s`` is the computation thrown away: seconds from the last finished unit (a
checkpoint, a row, a trial; or the start of the work) to the kill. Each job's report gives
every trial and, for each figure, its maximum and median over the trials.

Usage::

    python benchmarks/kill_trials.py [--jobs record,train,sweep,tune] [--trials 10] [--seed 0]
                                     [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("record", "train", "sweep", "tune")

SYNTH_MINUTES = 6
TRAIN_EPOCHS = 12
TRAIN_ARGS = ["--model", "gru", "--hidden", "8", "--epochs", str(TRAIN_EPOCHS), "--device", "cpu",
              "--json"]
SWEEP_EPOCHS = 2
SWEEP_ARGS = ["--grid", "hidden=8", "--grid", "lr=0.01,0.001", "--seeds", "0,1", "--model", "gru",
              "--epochs", str(SWEEP_EPOCHS), "--window", "100", "--json"]
SWEEP_ROWS = 4
"""Trials of the sweep above: 1 x 2 combinations x 2 seeds."""
TUNE_TRIALS = 4
TUNE_ARGS = ["--model", "gru", "--epochs", "1", "--window", "50", "--trials", str(TUNE_TRIALS),
             "--json"]
RECORD_KILL_AFTER = (1.0, 5.0)
"""Seconds after the recording file appears within which the recorder is killed."""
APPEARANCE_POLL_S = 0.005
"""How often the recording folder is looked at: the file's appearance is known to this."""
LOCK_FILE = ".deepmouse.lock"
"""The lock file a job creates in its output folder once it starts writing there."""


# --------------------------------------------------------------------------- processes


def child_env(**extra: str) -> dict[str, str]:
    """The environment of the jobs: this checkout's deepmouse first on the path (whatever
    version is installed), Matplotlib without a display."""
    env = dict(os.environ, MPLBACKEND="Agg", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "deepmouse", *map(str, args)]


def start(args: list[object], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``deepmouse ARGS`` with its output in ``log`` (a pipe nobody reads could fill up
    and stall the job)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(command(*args), stdout=fh, stderr=subprocess.STDOUT,
                                env=env or child_env())


def run(args: list[object], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, env=env or child_env(),
                          timeout=900)


def run_or_fail(args: list[object]) -> subprocess.CompletedProcess:
    done = run(args)
    if done.returncode != 0:
        raise SystemExit(f"error: deepmouse {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen | None = None,
               timeout: float = 300.0, every: float = 0.02) -> bool:
    """Wait until ``condition()``; False if ``proc`` ended first (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc is not None and proc.poll() is not None:
            return condition()
        time.sleep(every)
    return False


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL ``proc``; whether it was still running (not finished before the kill)."""
    running = proc.poll() is None
    proc.kill()
    proc.wait(60)
    return running


def error_line(done: subprocess.CompletedProcess) -> str | None:
    if done.returncode == 0:
        return None
    lines = [ln for ln in (done.stderr or "").splitlines() if ln.strip()]
    return f"exit {done.returncode}: {lines[-1] if lines else ''}"


def rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- record


class Xvfb:
    """Xvfb on a free display (``-displayfd``), stopped on exit."""

    def __enter__(self) -> str:
        from deepmouse.recordings import DEFAULT_SCREEN

        for tool in ("Xvfb", "xdotool"):
            if shutil.which(tool) is None:
                raise SystemExit(f"error: {tool} is not installed "
                                 "(apt-get install -y xvfb xdotool)")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
             "{}x{}x24".format(*DEFAULT_SCREEN), "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        try:
            data = b""
            while not data.endswith(b"\n"):
                if not select.select([read_fd], [], [], 10)[0]:
                    raise SystemExit("error: Xvfb did not report a display within 10 s")
                chunk = os.read(read_fd, 64)
                if not chunk:
                    raise SystemExit("error: Xvfb exited at start")
                data += chunk
        except BaseException:
            self.__exit__()
            raise
        finally:
            os.close(read_fd)
        return f":{int(data.strip())}"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_mover(env: dict[str, str], seconds: float, rng: random.Random) -> subprocess.Popen:
    """xdotool moving the pointer to a new random point every 20 ms for ``seconds``."""
    from deepmouse.recordings import DEFAULT_SCREEN

    args = ["xdotool"]
    for _ in range(int(seconds / 0.02) + 1):
        args += ["mousemove", str(rng.randrange(20, DEFAULT_SCREEN[0] - 20)),
                 str(rng.randrange(20, DEFAULT_SCREEN[1] - 20)), "sleep", "0.02"]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_recording(path: Path, alive_s: float) -> dict:
    """What a killed recorder left in ``path``, ``alive_s`` seconds after it appeared."""
    from deepmouse.recordings import DataError, PartialLineWarning, read_recording

    data = path.read_bytes()
    entry: dict = {"file_bytes": len(data), "ends_with_newline": data.endswith(b"\n")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rec = read_recording(path)
        except DataError as exc:
            return entry | {"readable": False, "error": str(exc), "lost_s": alive_s,
                            "partial_lines": int(not data.endswith(b"\n"))}
    entry["partial_lines"] = sum(issubclass(w.category, PartialLineWarning) for w in caught)
    last_t = float(rec.t[-1]) if rec.n_samples else 0.0
    return entry | {
        "readable": True,
        "samples": rec.n_samples,
        "last_t": last_t,
        "lost_s": alive_s - last_t,
        "t_increasing": bool(np.all(np.diff(rec.t) > 0)),
        "positions": len({tuple(p) for p in rec.xy.tolist()}),
    }


def record_trials(n: int, rng: random.Random, work: Path) -> list[dict]:
    trials = []
    with Xvfb() as display:
        env = child_env(DISPLAY=display)
        for i in range(n):
            dataset = work / f"record-{i}"
            after = rng.uniform(*RECORD_KILL_AFTER)
            mover = start_mover(env, after + 60, rng)
            proc = start(["record", dataset, "--hand", "left"], work / f"record-{i}.log", env)

            def recording(folder: Path = dataset / "left") -> list[Path]:
                return sorted(folder.glob("*.csv")) if folder.is_dir() else []

            try:
                if not wait_until(lambda: bool(recording()), proc, every=APPEARANCE_POLL_S):
                    raise SystemExit(f"error: the recorder made no file; see {proc.args} in "
                                     f"{work / f'record-{i}.log'}")
                appeared = time.monotonic()
                time.sleep(max(0.0, appeared + after - time.monotonic()))
                killed_at = time.monotonic()
                running = kill(proc)
            finally:
                mover.kill()
                mover.wait()
            (path,) = recording()
            trials.append({"kill_after_s": killed_at - appeared, "running_at_kill": running}
                          | measure_recording(path, killed_at - appeared))
    return trials


# --------------------------------------------------------------------------- train


def checkpoint_epoch(path: Path) -> int | None:
    """Epochs held by a training checkpoint (``None``: no checkpoint)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return json.loads(fh.metadata()["checkpoint"])["state"]["epoch"]
    except FileNotFoundError:
        return None


def model_outputs(run_folder: Path, data: Path) -> tuple[np.ndarray, list[dict]]:
    """The run's probabilities on every window of ``data`` and its history (less timings)."""
    from deepmouse.modelfile import load_model
    from deepmouse.recordings import load_dataset
    from deepmouse.windows import all_windows

    model = load_model(run_folder / "model.safetensors")
    X = all_windows(load_dataset(data), model.window_config).X
    history = [{k: v for k, v in r.items() if k != "seconds"}
               for r in rows(run_folder / "history.csv")]
    return model.predict_proba(X), history


def train_trials(n: int, rng: random.Random, work: Path, data: Path) -> tuple[list[dict], dict]:
    reference = work / "train-reference"
    proc = start(["train", data, "--out", reference, *TRAIN_ARGS], work / "train-reference.log")
    if not wait_until((reference / "checkpoint.safetensors").is_file, proc):
        raise SystemExit(f"error: the reference training wrote no checkpoint; see {proc.args}")
    first_checkpoint = time.monotonic()
    if proc.wait() != 0:
        raise SystemExit(f"error: the reference training failed; see {work}/train-reference.log")
    window = time.monotonic() - first_checkpoint
    expected_p, expected_history = model_outputs(reference, data)

    trials = []
    for i in range(n):
        out = work / f"train-{i}"
        checkpoint = out / "checkpoint.safetensors"
        delay = rng.uniform(0.0, window)
        proc = start(["train", data, "--out", out, *TRAIN_ARGS], work / f"train-{i}.log")
        wait_until(checkpoint.is_file, proc)
        time.sleep(delay)
        seen = checkpoint_epoch(checkpoint)
        last_write = checkpoint.stat().st_mtime if checkpoint.is_file() else None
        killed_wall = time.time()
        running = kill(proc)
        held = checkpoint_epoch(checkpoint)
        # the model file appears only once the run folder is complete: every epoch was done
        complete = (out / "model.safetensors").is_file()
        done = TRAIN_EPOCHS if complete else (seen or 0)
        again = run(["train", data, "--out", out, *TRAIN_ARGS, "--resume"])
        entry = {"kill_after_first_checkpoint_s": delay, "running_at_kill": running,
                 "epochs_seen_before_kill": seen, "run_complete_at_kill": complete,
                 "epochs_in_checkpoint": held, "rerun_error": error_line(again)}
        if again.returncode == 0:
            p, history = model_outputs(out, data)
            entry["probabilities_equal"] = bool(np.array_equal(p, expected_p))
            entry["probabilities_max_abs_diff"] = float(np.max(np.abs(p - expected_p)))
            entry["history_equal"] = history == expected_history
        entry["lost"] = int(not (entry.get("probabilities_equal")
                                 and entry.get("history_equal")))
        # --resume continues after the checkpoint's epochs, or trains from the first without one
        entry["epochs_trained_on_resume"] = TRAIN_EPOCHS - (held or 0)
        entry["epochs_recomputed"] = max(0, done - (held or 0)) if running else 0
        if not running:
            entry["work_lost_s"] = 0.0
        elif held is not None and last_write is not None:
            entry["work_lost_s"] = killed_wall - last_write
        else:  # no checkpoint left: the whole training is done again (epochs_recomputed)
            entry["work_lost_s"] = None
        trials.append(entry)
    return trials, {"kill_window_s": window, "windows": len(expected_p)}


# --------------------------------------------------------------------------- sweep


def compare_sweep(before: list[dict], after: list[dict], history_before: list[dict],
                  history_after: list[dict], expected_keys: set[tuple[str, str]],
                  epochs: int) -> dict:
    """What a killed and re-run sweep lost or repeated: ``before`` are the rows on disk at the
    kill, ``after`` those once the re-run finished."""
    keys = [(r["params"], r["seed"]) for r in after]
    done = {(r["params"], r["seed"]) for r in before}
    history_counts = Counter((r["params"], r["seed"], r["epoch"]) for r in history_after)
    expected_history = {(p, s, str(e)) for p, s in expected_keys for e in range(1, epochs + 1)}
    # history rows of trials finished at the kill must stay as they were
    kept_history = [r for r in history_before if (r["params"], r["seed"]) in done]
    rows_lost = sum(r not in after for r in before)
    rows_missing = len(expected_keys - set(keys))
    history_lost = sum(r not in history_after for r in kept_history)
    history_missing = len(expected_history - set(history_counts))
    rows_repeated = len(keys) - len(set(keys))
    history_repeated = sum(c - 1 for c in history_counts.values())
    return {
        "rows_at_kill": len(before),
        "rows_lost": rows_lost,
        "rows_missing": rows_missing,
        "rows_repeated": rows_repeated,
        "history_lost": history_lost,
        "history_missing": history_missing,
        "history_repeated": history_repeated,
        "unexpected_rows": len(set(keys) - expected_keys),
        "lost": rows_lost + rows_missing + history_lost + history_missing,
        "repeated": rows_repeated + history_repeated,
    }


def compare_summaries(summary: list[dict], reference: list[dict]) -> dict:
    """A sweep summary against the uninterrupted one: same combinations, seeds and scores."""
    def by_params(items: list[dict]) -> dict[str, dict]:
        return {json.dumps(s["params"], sort_keys=True): s for s in items}

    got, expected = by_params(summary), by_params(reference)
    diffs = [abs(got[k][f] - expected[k][f]) for k in set(got) & set(expected)
             for f in ("dev_accuracy_mean", "dev_accuracy_std", "dev_loss_mean")]
    same = set(got) == set(expected) and all(got[k]["n_seeds"] == expected[k]["n_seeds"]
                                             for k in got)
    return {"summary_equal": same and summary == reference,
            "summary_max_abs_diff": max(diffs) if same and diffs else None}


def work_started(out: Path, proc: subprocess.Popen) -> float:
    """Wait until the job holds ``out`` (its lock file is there); that wall time."""
    wait_until((out / LOCK_FILE).exists, proc, every=0.05)
    return time.time()


def sweep_trials(n: int, rng: random.Random, work: Path, data: Path) -> tuple[list[dict], dict]:
    reference = work / "sweep-reference"
    expected = json.loads(run_or_fail(["sweep", data, "--out", reference, *SWEEP_ARGS]).stdout)
    reference_rows = rows(reference / "sweep.csv")
    expected_keys = {(r["params"], r["seed"]) for r in reference_rows}
    # a trial's training plus its two CSV writes
    trial_s = float(np.mean([float(r["seconds"]) for r in reference_rows])) + 0.5

    trials = []
    for i in range(n):
        out = work / f"sweep-{i}"
        target, delay = rng.randrange(SWEEP_ROWS), rng.uniform(0.0, trial_s)
        proc = start(["sweep", data, "--out", out, *SWEEP_ARGS], work / f"sweep-{i}.log")
        began = work_started(out, proc)
        wait_until(lambda o=out, n=target: len(rows(o / "sweep.csv")) >= n, proc, every=0.05)
        time.sleep(delay)
        killed_wall = time.time()
        running = kill(proc)
        before, history_before = rows(out / "sweep.csv"), rows(out / "sweep_history.csv")
        last = (out / "sweep.csv").stat().st_mtime if before else began
        again = run(["sweep", data, "--out", out, *SWEEP_ARGS])
        entry = {"kill_after_rows": target, "kill_delay_s": delay, "running_at_kill": running,
                 "rerun_error": error_line(again),
                 "work_lost_s": max(0.0, killed_wall - last) if running else 0.0}
        entry |= compare_sweep(before, rows(out / "sweep.csv"), history_before,
                               rows(out / "sweep_history.csv"), expected_keys, SWEEP_EPOCHS)
        if again.returncode == 0:
            entry |= compare_summaries(json.loads(again.stdout), expected)
        else:
            entry["lost"] += 1
        trials.append(entry)
    return trials, {"trial_s": trial_s}


# --------------------------------------------------------------------------- tune


def complete_count(db: Path) -> int:
    """COMPLETE trials in an Optuna SQLite file, read without Optuna (cheap enough to poll)."""
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
                                ).fetchone()[0]
    except sqlite3.Error:  # not created yet, or busy
        return 0


def study_trials(db: Path) -> list:
    """Every trial of the study in ``db`` (none if there is no study yet)."""
    import optuna

    if not db.is_file():
        return []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name="deepmouse", storage=f"sqlite:///{db}")
    except KeyError:  # the file is there, the study not yet
        return []
    return study.get_trials()


def compare_tune(before: dict[int, tuple[dict, float]], after: dict[int, tuple[dict, float]],
                 n_trials: int) -> dict:
    """What a killed and re-run tune lost or repeated, from its COMPLETE trials
    (``number: (params, value)``) at the kill and once the re-run finished."""
    params = [tuple(sorted(p.items())) for p, _ in after.values()]
    lost = sum(after.get(number) != trial for number, trial in before.items())
    return {"complete_at_kill": len(before), "lost": lost,
            "repeated": len(params) - len(set(params)), "complete_after": len(after),
            "complete_as_asked": len(after) == n_trials}


def tune_trials(n: int, rng: random.Random, work: Path, data: Path) -> tuple[list[dict], dict]:
    import optuna

    def complete(db: Path) -> dict[int, tuple[dict, float]]:
        return {t.number: (t.params, t.value) for t in study_trials(db)
                if t.state == optuna.trial.TrialState.COMPLETE}

    reference = work / "tune-reference"
    run_or_fail(["tune", data, "--out", reference, *TUNE_ARGS])
    trial_s = float(np.mean([t.user_attrs["seconds"] for t in study_trials(
        reference / "optuna.db") if t.state == optuna.trial.TrialState.COMPLETE])) + 0.5

    trials = []
    for i in range(n):
        out = work / f"tune-{i}"
        db = out / "optuna.db"
        target, delay = rng.randrange(TUNE_TRIALS), rng.uniform(0.0, trial_s)
        proc = start(["tune", data, "--out", out, *TUNE_ARGS], work / f"tune-{i}.log")
        began = work_started(out, proc)
        wait_until(lambda d=db, n=target: complete_count(d) >= n, proc, every=0.05)
        time.sleep(delay)
        killed_wall = time.time()
        running = kill(proc)
        before = complete(db)
        finished = [t.datetime_complete for t in study_trials(db)
                    if t.state == optuna.trial.TrialState.COMPLETE]
        last = max([began] + [datetime.timestamp(d) for d in finished])
        again = run(["tune", data, "--out", out, *TUNE_ARGS])
        entry = {"kill_after_trials": target, "kill_delay_s": delay, "running_at_kill": running,
                 "rerun_error": error_line(again),
                 "work_lost_s": max(0.0, killed_wall - last) if running else 0.0}
        entry |= compare_tune(before, complete(db), TUNE_TRIALS)
        states = Counter(t.state.name for t in study_trials(db))
        entry["trials_left_running"] = states.get("RUNNING", 0)
        if again.returncode == 0:
            entry["rerun_reports_trials"] = json.loads(again.stdout)["n_trials"]
        else:
            entry["lost"] += 1
        trials.append(entry)
    return trials, {"trial_s": trial_s}


# --------------------------------------------------------------------------- report

FIGURES = {
    "record": ["lost_s", "partial_lines", "kill_after_s", "samples"],
    "train": ["lost", "epochs_recomputed", "probabilities_max_abs_diff", "work_lost_s",
              "epochs_in_checkpoint", "epochs_trained_on_resume",
              "kill_after_first_checkpoint_s"],
    "sweep": ["lost", "repeated", "rows_lost", "rows_missing", "rows_repeated", "history_lost",
              "history_missing", "history_repeated", "summary_max_abs_diff", "work_lost_s",
              "rows_at_kill", "kill_delay_s"],
    "tune": ["lost", "repeated", "complete_after", "trials_left_running", "work_lost_s",
             "complete_at_kill", "kill_delay_s"],
}
"""The figures summarised (maximum and median over trials) for each job."""
KILL_MOMENT = {"record": "kill_after_s", "train": "kill_after_first_checkpoint_s",
               "sweep": ("kill_after_rows", "kill_delay_s"),
               "tune": ("kill_after_trials", "kill_delay_s")}


def summarise(job: str, trials: list[dict]) -> dict:
    """Maximum and median of each of the job's figures over its trials."""
    figures = {}
    for name in FIGURES[job]:
        values = [t[name] for t in trials if t.get(name) is not None]
        figures[name] = ({"max": max(values), "median": statistics.median(values)}
                         if values else None)
    moment = KILL_MOMENT[job]
    kills = ([t[moment] for t in trials] if isinstance(moment, str)
             else [[t[m] for m in moment] for t in trials])
    summary = {"trials": len(trials), "kill_moments": kills, "figures": figures,
               "killed_while_running": sum(t["running_at_kill"] for t in trials),
               "rerun_errors": [t["rerun_error"] for t in trials if t.get("rerun_error")]}
    if job == "record":
        summary["partial_lines_total"] = sum(t["partial_lines"] for t in trials)
        summary["unreadable"] = sum(not t["readable"] for t in trials)
    if job == "train":
        summary["bitwise_equal"] = sum(bool(t.get("probabilities_equal")) for t in trials)
    if job == "sweep":
        summary["summary_equal"] = sum(bool(t.get("summary_equal")) for t in trials)
    if job == "tune":
        summary["complete_as_asked"] = sum(t["complete_as_asked"] for t in trials)
    return summary


def line(job: str, s: dict) -> str:
    f = s["figures"]

    def mm(name: str, unit: str = "") -> str:
        return "n/a" if f[name] is None else (
            f"max {f[name]['max']:.3g}{unit}, median {f[name]['median']:.3g}{unit}")

    head = f"{job}: {s['trials']} trials ({s['killed_while_running']} killed while running)"
    if job == "record":
        return (f"{head}; lost {mm('lost_s', ' s')}; partial lines {s['partial_lines_total']}; "
                f"unreadable {s['unreadable']}")
    if job == "train":
        return (f"{head}; lost {mm('lost')} ({s['bitwise_equal']} bit for bit); epochs "
                f"recomputed {mm('epochs_recomputed')}; work lost {mm('work_lost_s', ' s')}")
    if job == "sweep":
        return (f"{head}; lost {mm('lost')}; repeated {mm('repeated')}; summary equal "
                f"{s['summary_equal']}/{s['trials']}; work lost {mm('work_lost_s', ' s')}")
    return (f"{head}; lost {mm('lost')}; repeated {mm('repeated')}; {TUNE_TRIALS} complete "
            f"{s['complete_as_asked']}/{s['trials']}; work lost {mm('work_lost_s', ' s')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default=",".join(JOBS),
                        help=f"comma-separated jobs to kill: {', '.join(JOBS)}")
    parser.add_argument("--trials", type=int, default=10, help="kills per job")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown:
        parser.error(f"unknown job(s) {', '.join(unknown)} (expected {', '.join(JOBS)})")
    if args.trials < 1:
        parser.error("--trials must be at least 1")

    result: dict = {"benchmark": "kill_trials", "seed": args.seed, "trials": args.trials,
                    "settings": {"train": TRAIN_ARGS, "sweep": SWEEP_ARGS, "tune": TUNE_ARGS,
                                 "synth_minutes": SYNTH_MINUTES,
                                 "record_kill_after_s": list(RECORD_KILL_AFTER),
                                 "appearance_poll_s": APPEARANCE_POLL_S},
                    "jobs": {}, "python": platform.python_version(),
                    "machine": platform.machine(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="deepmouse-kill-") as tmp:
        work = Path(tmp)
        data = work / "data"
        if set(jobs) - {"record"}:
            run_or_fail(["data", "synth", data, "--minutes", SYNTH_MINUTES, "--seed", 1])
        for job in jobs:
            rng = random.Random(f"{args.seed}-{job}")  # each job's moments, whatever else runs
            began = time.perf_counter()
            if not args.json:
                print(f"{job}: {args.trials} trials...", file=sys.stderr)
            if job == "record":
                trials, extra = record_trials(args.trials, rng, work), {}
            else:
                trials, extra = {"train": train_trials, "sweep": sweep_trials,
                                 "tune": tune_trials}[job](args.trials, rng, work, data)
            result["jobs"][job] = summarise(job, trials) | extra | {
                "seconds": time.perf_counter() - began, "trial_results": trials}
    result["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    text = json.dumps(result)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for job, s in result["jobs"].items():
            print(line(job, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
