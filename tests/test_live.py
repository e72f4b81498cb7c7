"""Live prediction: the streaming predictor equals batch evaluation; replay and the real cursor.

The model is a small GRU trained for one epoch on synthetic data (seconds): these tests check
the plumbing (same windows, same probabilities, valid output), not accuracy.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeClock, assert_clean_error, cli, entry_point
from xserver import XServer, require_x

from deepmouse.classifier import HandClassifier
from deepmouse.decision import DecisionModel, SequentialDecision
from deepmouse.evaluate import decision_probability, log_odds
from deepmouse.live import StreamingPredictor, replay_samples, run_live
from deepmouse.modelfile import load_model, save_model
from deepmouse.recordings import DataError, Recording, read_recording, write_recording
from deepmouse.synth import synthesize_dataset
from deepmouse.windows import WindowConfig, active_mask, cut, make_splits, movement, resample

KEYS = {"t", "idle", "p_left", "decision", "p_decision", "p_left_total", "decided",
        "seconds_to_decision", "n_windows", "n_idle", "latency_ms"}
DECISION = DecisionModel(mu=0.5, sigma2=1.0, tau2=0.05, switch_rate=1 / 60, threshold=0.9)
WINDOW = 100  # 1 s at 100 Hz keeps the tests short


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model file, synthetic dataset folder)."""
    from deepmouse.recordings import load_dataset

    root = tmp_path_factory.mktemp("live")
    data = synthesize_dataset(root / "data", minutes=1, seed=0)
    config = WindowConfig(window=WINDOW, rate=100.0)
    splits = make_splits(load_dataset(data), config)
    clf = HandClassifier(family="gru", hidden=8, epochs=4, lr=1e-2, device="cpu", seed=0,
                         threads=1)
    clf.fit(splits.train.X, splits.train.y)
    save_model(root / "decides.safetensors", clf, config, decision=DECISION)
    return save_model(root / "model.safetensors", clf, config), data


def paused_jittery(rec: Recording, seed: int = 0) -> Recording:
    """``rec`` with irregular timestamps and a 3-second pause inserted at 10 s (idle windows)."""
    rng = np.random.default_rng(seed)
    t = rec.t[rec.t < 20.0]
    xy = rec.xy[: len(t)]
    t = t + rng.uniform(-0.003, 0.003, len(t))  # jitter, still increasing (period 10 ms)
    cut_at = int(np.searchsorted(t, 10.0))
    pause_t = t[cut_at - 1] + np.arange(1, 301) * 0.01
    t = np.concatenate([t[:cut_at], pause_t, t[cut_at:] + 3.0])
    xy = np.concatenate([xy[:cut_at], np.repeat(xy[cut_at - 1 : cut_at], 300, axis=0),
                         xy[cut_at:]])
    return Recording(path=None, label=1, t=t, xy=xy)


def test_streaming_posterior_equals_the_batch_decision_over_the_windows_it_counts(
    tiny: tuple[Path, Path],
) -> None:
    """With decision constants, the posterior of every update is SequentialDecision over the
    active windows counted so far: back to back, each one window or more after the last one
    counted (overlapping windows in between are shown, not counted)."""
    model = load_model(tiny[0].with_name("decides.safetensors"))
    assert model.decision == DECISION
    rec = paused_jittery(read_recording(tiny[1] / "left" / "session1.csv"))
    predictor = StreamingPredictor(model, hop=0.25)
    updates = predictor.push_many(zip(rec.t, rec.xy[:, 0], rec.xy[:, 1], strict=True))
    batch = SequentialDecision(DECISION, model.window_config.seconds)
    counted, shown, expected = None, 0, None
    for update in updates:
        if update.idle:
            continue
        if counted is None or round((update.t - counted) * 100) >= WINDOW:
            counted = update.t
            expected = batch.update(float(log_odds(np.array([update.p_left]))[0]))
        else:
            shown += 1
        assert update.p_left_total == pytest.approx(expected.p_left, abs=1e-9)
        assert update.decided == expected.decided
        assert update.seconds_to_decision == expected.seconds_to_decision
    assert shown > 2 * batch.seconds / model.window_config.seconds  # 3 of 4 updates are shown
    stricter = StreamingPredictor(model, hop=0.25, threshold=0.999)
    assert stricter.decision_model.threshold == 0.999


def test_live_json_lines_say_when_decided(tiny: tuple[Path, Path]) -> None:
    model_file = tiny[0].with_name("decides.safetensors")
    out = io.StringIO()
    run_live(model_file, replay=tiny[1] / "left" / "session1.csv", speed=0, json_lines=True,
             out=out, threshold=0.6)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines and all(set(d) == KEYS for d in lines)
    decided = [d for d in lines if d["decided"] is not None]
    assert decided, "a 0.6 threshold is reached on a minute of one hand"
    for d in lines:
        sure = max(d["p_left_total"], 1 - d["p_left_total"]) >= 0.6
        assert (d["decided"] is not None) == sure
        assert (d["seconds_to_decision"] is None) == (d["decided"] is None)
    assert all(d["seconds_to_decision"] > 0 for d in decided)
    assert_clean_error(cli("live", model_file, "--replay", tiny[1] / "left" / "session1.csv",
                           "--threshold", "1.5"), "threshold must be in (0.5, 1)")


def test_without_decision_constants_the_mean_rule_is_shown_and_nothing_is_decided(
    tiny: tuple[Path, Path],
) -> None:
    model = load_model(tiny[0])
    rec = paused_jittery(read_recording(tiny[1] / "left" / "session1.csv"))
    predictor = StreamingPredictor(model, hop=0.25)
    assert predictor.hop_steps == 25
    updates = predictor.push_many(zip(rec.t, rec.xy[:, 0], rec.xy[:, 1], strict=True))

    X = cut(movement(resample(rec, 100.0)), WINDOW, predictor.hop_steps)
    active = active_mask(X, model.window_config.idle_threshold)
    assert len(updates) == len(X) > 40
    assert 0 < (~active).sum() < len(X), "the pause must make some (not all) windows idle"
    assert [u.idle for u in updates] == (~active).tolist()
    # window k ends at grid step WINDOW + k * hop
    expected_t = (WINDOW + np.arange(len(X)) * predictor.hop_steps) / 100.0
    np.testing.assert_allclose([u.t for u in updates], expected_t, atol=1e-9)

    batch = model.predict_proba(X[active])[:, 1]
    stream = np.array([u.p_left for u in updates if not u.idle])
    np.testing.assert_allclose(stream, batch, atol=1e-5)
    assert all(u.p_left is None for u in updates if u.idle)

    last = updates[-1]
    assert last.n_windows == int(active.sum())
    assert last.n_idle == int((~active).sum())
    assert last.p_left_total == pytest.approx(decision_probability(batch), abs=1e-6)
    assert last.decision == ("left" if last.p_left_total >= 0.5 else "right")
    assert last.p_decision == pytest.approx(max(last.p_left_total, 1 - last.p_left_total))
    # the running decision after k active windows uses exactly the first k
    k = 5
    kth = [u for u in updates if not u.idle][k - 1]
    assert kth.p_left_total == pytest.approx(decision_probability(batch[:k]), abs=1e-6)


def test_streaming_every_step_over_a_whole_recording(tiny: tuple[Path, Path]) -> None:
    """hop = one grid step: thousands of updates (the probability buffer grows), same as batch."""
    model = load_model(tiny[0])
    full = read_recording(tiny[1] / "right" / "session1.csv")
    head = full.t < 8.0
    rec = Recording(path=None, label=0, t=full.t[head], xy=full.xy[head])
    predictor = StreamingPredictor(model, hop=0.01)
    assert predictor.hop_steps == 1
    updates = predictor.push_many(zip(rec.t, rec.xy[:, 0], rec.xy[:, 1], strict=True))
    X = cut(movement(resample(rec, 100.0)), WINDOW, 1)
    active = active_mask(X, model.window_config.idle_threshold)
    assert len(updates) == len(X) > 600 and active.sum() > 256
    np.testing.assert_allclose(predictor.p_left, model.predict_proba(X[active])[:, 1], atol=1e-5)
    assert updates[-1].n_windows == active.sum()
    assert updates[-1].p_left_total == pytest.approx(decision_probability(predictor.p_left))


def test_streaming_stroke_cnn_equals_batch(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """The default family scores each live window by its one-window path (numpy): the same
    probabilities as batch predict_proba (torch), every update."""
    from deepmouse.recordings import load_dataset

    config = WindowConfig(window=WINDOW, rate=100.0)
    splits = make_splits(load_dataset(tiny[1]), config)
    clf = HandClassifier(family="stroke-cnn", hidden=4, conv_layers=2, epochs=1, device="cpu",
                         seed=0, threads=1)
    clf.fit(splits.train.X, splits.train.y)
    model = load_model(save_model(tmp_path / "stroke.safetensors", clf, config,
                                  decision=DECISION))
    rec = paused_jittery(read_recording(tiny[1] / "right" / "session1.csv"))
    predictor = StreamingPredictor(model, hop=0.1)
    updates = predictor.push_many(zip(rec.t, rec.xy[:, 0], rec.xy[:, 1], strict=True))
    X = cut(movement(resample(rec, 100.0)), WINDOW, predictor.hop_steps)
    active = active_mask(X, model.window_config.idle_threshold)
    assert len(updates) == len(X) and active.sum() > 100
    assert model.classifier.state_.runtime["one_window"] is not None
    batch = model.predict_proba(X[active])[:, 1]
    np.testing.assert_allclose(predictor.p_left, batch, rtol=0, atol=1e-6)


def test_streaming_before_first_window_and_reset(tiny: tuple[Path, Path]) -> None:
    model = load_model(tiny[0])
    predictor = StreamingPredictor(model, hop=0.5)
    # WINDOW steps need WINDOW + 1 positions: 1 s of samples gives nothing yet
    assert predictor.push_many((i / 100, float(i), 0.0) for i in range(WINDOW)) == []
    assert predictor.filled < 1.0
    (update,) = predictor.push(WINDOW / 100, float(WINDOW), 0.0)
    assert update.t == pytest.approx(1.0)
    # constant velocity along x only: y never moves, so the window is idle (both axes needed)
    assert update.idle and update.decision is None and update.p_decision == 0.5
    assert predictor.push(WINDOW / 100, 0.0, 0.0) == []  # not later in time: ignored
    predictor.reset()
    assert predictor.filled == 0.0 and len(predictor.p_left) == 0 and predictor.n_idle == 0


def test_bad_hop_is_a_data_error(tiny: tuple[Path, Path]) -> None:
    model = load_model(tiny[0])
    with pytest.raises(DataError, match="hop"):
        StreamingPredictor(model, hop=0)


def test_replay_json_lines_matches_streaming(tiny: tuple[Path, Path]) -> None:
    model_file, data = tiny
    rec_file = data / "right" / "session1.csv"
    out = io.StringIO()
    last = run_live(model_file, replay=rec_file, speed=0, hop=0.5, json_lines=True,
                    seconds=20, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines and set(lines[0]) == KEYS
    assert last is not None and lines[-1]["n_windows"] == last.n_windows

    rec = read_recording(rec_file)
    keep = rec.t - rec.t[0] <= 20.0
    predictor = StreamingPredictor(load_model(model_file), hop=0.5)
    direct = predictor.push_many(zip(rec.t[keep], rec.xy[keep, 0], rec.xy[keep, 1], strict=True))
    head = Recording(path=None, label=0, t=rec.t[keep], xy=rec.xy[keep])
    n_windows = len(cut(movement(resample(head, 100.0)), WINDOW, 50))
    assert len(lines) == len(direct) == n_windows >= 35  # ~ (20 s - 1 s window) / 0.5 s + 1
    for line, update in zip(lines, direct, strict=True):
        assert line["idle"] == update.idle
        if update.idle:
            assert line["p_left"] is None
        else:
            assert line["p_left"] == pytest.approx(update.p_left, abs=1e-6)
            assert 0.0 <= line["p_left"] <= 1.0
        assert 0.5 <= line["p_decision"] <= 1.0


def test_replay_at_speed_4_waits_a_quarter_of_the_recordings_time(
    tiny: tuple[Path, Path],
) -> None:
    rec_file = tiny[1] / "left" / "session1.csv"
    clock = FakeClock()
    paced = []
    for t, x, y in replay_samples(rec_file, speed=4.0, seconds=3.0, clock=clock,
                                  sleep=clock.sleep):
        paced.append((t, x, y))
        assert clock.now == pytest.approx(t / 4.0)  # each sample released at its time / 4
    assert paced[0][0] == 0.0 and paced[-1][0] <= 3.0
    assert sum(clock.slept) == pytest.approx(paced[-1][0] / 4.0)
    unpaced = FakeClock()
    assert list(replay_samples(rec_file, speed=0, seconds=3.0, clock=unpaced,
                               sleep=unpaced.sleep)) == paced
    assert unpaced.slept == []  # speed 0: as fast as possible


def test_replay_cli_and_errors(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_file, data = tiny
    rec_file = data / "left" / "session1.csv"
    res = cli("live", model_file.parent / model_file.name, "--replay", rec_file,
              "--speed", "0", "--seconds", "6.5", "--hop", "1", "--json-lines")
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 6 and all(set(d) == KEYS for d in lines)
    assert all(d["p_left"] is None or 0 <= d["p_left"] <= 1 for d in lines)


    # a bad model on the command line: one line on stderr, exit 2, no traceback
    bad_model = tmp_path / "bad.safetensors"
    bad_model.write_bytes(b"not a model")
    res = cli("live", bad_model, "--replay", rec_file)
    assert_clean_error(res, "bad.safetensors", "not a deepmouse model")
    assert res.stderr.startswith("error:")


def test_replay_rich_display(tiny: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    model_file, data = tiny
    last = run_live(model_file, replay=data / "left" / "session1.csv", speed=0, seconds=4)
    out = capsys.readouterr().out
    assert last is not None and last.decision is not None and last.decided is None
    assert f"undecided: {last.decision} hand more likely ({last.p_decision:.0%})" in out
    assert "deepmouse live: replay of session1.csv" in out


def test_replay_rich_display_shows_the_decision_and_what_it_took(
    tiny: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    model_file = tiny[0].with_name("decides.safetensors")
    last = run_live(model_file, replay=tiny[1] / "left" / "session1.csv", speed=0,
                    threshold=0.6)
    out = " ".join(capsys.readouterr().out.split())
    assert last is not None and last.decided is not None
    assert (f"decision: {last.decided} hand, P = {last.p_decision:.1%} after "
            f"{last.seconds_to_decision:.1f} s of movement") in out


def test_live_errors_are_data_errors(tiny: tuple[Path, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    model_file, data = tiny
    rec_file = data / "left" / "session1.csv"
    partial = tmp_path / "partial.csv"
    write_recording(partial, np.array([0.0]), np.array([[1.0, 2.0]]))
    cases = [
        (dict(model=tmp_path, replay=rec_file), "model.safetensors"),
        (dict(model=model_file, replay=tmp_path / "missing.csv"), "no such recording"),
        (dict(model=model_file, replay=partial), "truncated"),
        (dict(model=model_file, replay=rec_file, speed=-1), "speed"),
        (dict(model=model_file, replay=rec_file, hop=0), "hop"),
        (dict(model=model_file, replay=rec_file, seconds=0), "seconds"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DataError, match=message):
            run_live(json_lines=True, out=io.StringIO(), **kwargs)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DataError, match="DISPLAY"):
        run_live(model_file, seconds=1, json_lines=True, out=io.StringIO())


@pytest.mark.x11
def test_live_on_a_real_x_server(tiny: tuple[Path, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require_x()
    with XServer() as x:
        # a continuous wiggly path, 10 ms per point, longer than the test (the live process
        # needs a few seconds to start): stopped when live is done
        s = np.arange(4000) / 100.0
        points = [(int(700 + 400 * np.sin(1.3 * t)), int(400 + 250 * np.sin(2.1 * t + 0.4)))
                  for t in s]
        mover = x.start_path(points, hold=0.01)
        try:
            res = entry_point("live", tiny[0], "--seconds", "4", "--hop", "0.25",
                              "--json-lines", env=x.env(), timeout=60)
        finally:
            mover.kill()
            mover.wait()
        assert res.returncode == 0, res.stderr
        lines = [json.loads(line) for line in res.stdout.splitlines()]
        # 4 s of samples, first window after 1 s, then every 0.25 s
        assert 10 <= len(lines) <= 13, len(lines)
        assert all(set(d) == KEYS for d in lines)
        active = [d for d in lines if not d["idle"]]
        assert active, "the pointer moved: some windows must be active"
        assert all(0.0 <= d["p_left"] <= 1.0 for d in active)
        assert lines[-1]["n_windows"] == len(active)
        assert lines[-1]["decision"] in ("left", "right")

        # the pointer now stands still: every window is idle and nothing is guessed
        # (in-process this time: the same code without a second start-up)
        monkeypatch.setenv("DISPLAY", x.display)
        out = io.StringIO()
        last = run_live(tiny[0], seconds=2, hop=0.5, json_lines=True, out=out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        # windows ending at 1, 1.5 and (unless the clock passes 2 s first, on a loaded
        # machine) 2 s
        assert len(lines) in (2, 3)
        assert all(d["idle"] and d["p_left"] is None for d in lines)
        assert last is not None and last.decision is None and last.n_windows == 0


def test_sparkline_marks_the_last_minute_two_seconds_a_mark():
    from deepmouse.live import SPARK_CHARS, sparkline

    history = [(t / 2, (t / 2) / 90) for t in range(181)]  # P(left) rising over 90 s
    line = sparkline(history, now=90.0)
    assert len(line) == 30  # only the last minute, a mark per 2 s
    assert line[-1] == SPARK_CHARS[-1] and line[0] == SPARK_CHARS[int(31.5 / 90 * 8)]
    assert list(line) == sorted(line)  # a rising posterior draws rising marks
    assert sparkline([(0.0, 0.0), (1.5, 1.0)], now=1.5) == SPARK_CHARS[-1]  # a slot's last
    assert sparkline([(0.0, 0.0), (6.0, 1.0)], now=6.0) == SPARK_CHARS[0] + "  " + SPARK_CHARS[-1]
    assert sparkline([(0.0, 0.0), (1.0, 1.0)], now=1.0, per_mark=1.0) == \
        SPARK_CHARS[0] + SPARK_CHARS[-1]
    assert sparkline([], now=5.0) == ""


def test_the_live_view_draws_the_posterior_of_the_last_minute(
    tiny: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    from deepmouse.live import sparkline

    model_file, data = tiny
    replay = data / "left" / "session1.csv"
    updates = [json.loads(line) for line in _json_lines(model_file, replay)]
    run_live(model_file, replay=replay, speed=0, seconds=30)
    out = capsys.readouterr().out
    last = updates[-1]
    expected = sparkline([(u["t"], u["p_left_total"]) for u in updates], last["t"])
    assert f"last minute  right {expected} left" in out


def _json_lines(model_file: Path, replay: Path) -> list[str]:
    out = io.StringIO()
    run_live(model_file, replay=replay, speed=0, seconds=30, json_lines=True, out=out)
    return out.getvalue().splitlines()
