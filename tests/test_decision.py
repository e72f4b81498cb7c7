"""The sequential decision: a posterior that accumulates evidence, stays honest about session
offsets, follows a change of hand, and decides when sure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepmouse.decision import TAU2_FLOOR, DecisionModel, SequentialDecision, fit_decision_model
from deepmouse.evaluate import sequential_metrics, switch_metrics

MODEL = DecisionModel(mu=1.0, sigma2=4.0, tau2=0.2, switch_rate=0.0)


def simulate_sessions(n_sessions: int, windows: int, model: DecisionModel, seed: int):
    """Log-odds drawn from the hierarchical model itself: ``(z, y, session)``."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_sessions) % 2, windows)
    offset = np.repeat(rng.normal(0, math.sqrt(model.tau2), n_sessions), windows)
    z = np.where(y == 1, 1.0, -1.0) * model.mu + offset + rng.normal(
        0, math.sqrt(model.sigma2), len(y))
    return z, y, np.repeat(np.arange(n_sessions), windows)


def test_without_switches_the_posterior_is_the_closed_form():
    z = np.random.default_rng(0).normal(0.8, 2.0, 40)
    stream = SequentialDecision(MODEL, window_seconds=2.0)
    for k, value in enumerate(z, start=1):
        post = stream.update(float(value))
        expected = 1 / (1 + math.exp(-MODEL.log_odds(z[:k].mean(), k)))
        assert post.p_left == pytest.approx(expected, rel=1e-9)
        assert post.seconds == pytest.approx(2.0 * k)


def test_agreeing_windows_raise_confidence_but_a_session_offset_caps_it():
    """A session read as slightly left-ish (mean log-odds 0.1 mu) never becomes sure."""
    stream = SequentialDecision(MODEL, window_seconds=2.0)
    history = [stream.update(0.1).p_left for _ in range(500)]
    assert np.all(np.diff(history) > 0)  # every agreeing window adds evidence
    cap = 1 / (1 + math.exp(-2 * MODEL.mu * 0.1 / MODEL.tau2))  # n → ∞
    assert history[-1] < cap < 0.75
    assert stream.update(0.1).decided is None


def test_overlapping_windows_count_by_their_new_steps():
    """Four windows that each add a quarter of new movement weigh as much as one."""
    one, four = SequentialDecision(MODEL, 2.0), SequentialDecision(MODEL, 2.0)
    for _ in range(5):
        a = one.update(1.5)
        for _ in range(4):
            b = four.update(1.5, weight=0.25)
    assert b.p_left == pytest.approx(a.p_left, rel=1e-9)
    assert b.seconds == pytest.approx(a.seconds)


def test_a_change_of_hand_is_followed_only_with_a_switch_rate():
    rng = np.random.default_rng(1)
    left, right = 1.0 + rng.normal(0, 2, 60), -1.0 + rng.normal(0, 2, 60)
    switching = SequentialDecision(MODEL.with_options(switch_rate=1 / 120), 2.0)
    stuck = SequentialDecision(MODEL, 2.0)
    for value in left:
        assert switching.update(float(value)).p_left > 0.5
        stuck.update(float(value))
    followed = [switching.update(float(v)).decided for v in right]
    assert "right" in followed
    assert followed.index("right") < 40  # within 80 s of movement at σ = 2 per window
    assert all(stuck.update(float(v)).decided != "right" for v in right[:40])


def test_seconds_to_decision_counts_until_the_threshold_and_survives_a_dip():
    stream = SequentialDecision(MODEL.with_options(threshold=0.9), 1.0)
    posts = [stream.update(1.0) for _ in range(30)]
    first = next(p for p in posts if p.decided == "left")
    assert first.seconds_to_decision == first.seconds
    assert all(p.seconds_to_decision is None for p in posts if p.decided is None)
    stream.update(-0.5)  # a dip below the threshold
    again = [stream.update(1.0) for _ in range(5)][-1]
    assert again.decided == "left" and again.seconds_to_decision == first.seconds


def test_decisions_at_the_threshold_are_right_as_often_as_it_says():
    """On log-odds drawn from the model itself, decisions at 0.95 are right >= 95% of the time,
    and the posterior's expected calibration error is small."""
    model = DecisionModel(mu=0.8, sigma2=3.0, tau2=0.3, switch_rate=1 / 300)
    z, y, session = simulate_sessions(100, 60, model, seed=2)
    result = sequential_metrics(z, y, session, 2.0, model)
    assert result["trials"] == 100 * 24  # a trial every 5 s of 120 s of movement
    assert result["decided"] > 0.5
    assert result["accuracy"] >= 0.95
    assert result["ece"] < 0.05
    assert [c["seconds"] for c in result["curve"]] == list(range(1, 61))
    decided = [c["decided"] for c in result["curve"]]
    assert decided == sorted(decided) and decided[-1] == pytest.approx(result["decided"])


def test_fitted_constants_match_the_simulation():
    truth = DecisionModel(mu=1.2, sigma2=4.0, tau2=0.5)
    z, y, session = simulate_sessions(300, 40, truth, seed=3)
    fitted = fit_decision_model(z, y, session)
    assert fitted.mu == pytest.approx(1.2, abs=0.1)
    assert fitted.sigma2 == pytest.approx(4.0, rel=0.05)
    assert fitted.tau2 == pytest.approx(0.5, abs=0.15)


def test_fitting_refuses_a_model_without_signal_and_floors_the_offset():
    z, y, session = simulate_sessions(4, 30, MODEL, seed=4)
    with pytest.raises(ValueError, match="do not point toward the true hand"):
        fit_decision_model(-z, y, session)
    one_per_hand = fit_decision_model(np.r_[np.full(5, 1.0), np.full(5, -1.0)] +
                                      np.tile([0.1, -0.1, 0.0, 0.2, -0.2], 2),
                                      np.repeat([1, 0], 5), np.repeat([0, 1], 5))
    assert one_per_hand.tau2 == pytest.approx(TAU2_FLOOR * one_per_hand.mu ** 2)
    assert fit_decision_model(np.r_[np.full(5, 1.0), np.full(5, -1.0)],
                              np.repeat([1, 0], 5), np.repeat([0, 1], 5),
                              tau2_floor=0.5).tau2 == pytest.approx(0.5)


def test_switch_metrics_need_both_hands():
    z, y, session = simulate_sessions(4, 40, MODEL, seed=5)
    model = MODEL.with_options(switch_rate=1 / 120)
    result = switch_metrics(z, y, session, 2.0, model)
    assert result["trials"] == 8  # ordered pairs of sessions of different hands: 2 × 2 × 2
    assert 0 < result["followed"] <= 1 and result["median_seconds"] > 0
    only_left = y == 1
    assert switch_metrics(z[only_left], y[only_left], session[only_left], 2.0, model) is None


@pytest.mark.parametrize("field, value", [("mu", float("nan")), ("mu", 0.0), ("mu", True),
                                          ("sigma2", 0.0), ("tau2", -1.0), ("threshold", 1.0),
                                          ("switch_rate", 2.0)])
def test_absurd_constants_are_refused(field, value):
    constants = MODEL.to_dict() | {field: value}
    with pytest.raises(ValueError, match=field):
        DecisionModel(**constants)


def test_a_model_that_leans_to_one_hand_is_recentred():
    """Log-odds shifted toward the left on every held-out session: the fitted bias removes it,
    so right-hand sessions are still decided right."""
    z, y, session = simulate_sessions(40, 40, MODEL, seed=6)
    fitted = fit_decision_model(z + 0.7, y, session)
    assert fitted.bias == pytest.approx(0.7, abs=0.15)
    z_new, y_new, session_new = simulate_sessions(20, 40, MODEL, seed=7)
    result = sequential_metrics(z_new + 0.7, y_new, session_new, 2.0, fitted)
    assert result["accuracy"] > 0.9  # 20 sessions: the 0.95 promise holds up to their spread
    right = SequentialDecision(fitted, 2.0)
    assert [right.update(-0.3 + 0.7) for _ in range(60)][-1].p_left < 0.5


def test_constants_of_numpy_types_are_accepted():
    model = DecisionModel(mu=np.float32(1.0), sigma2=np.float64(2.0), tau2=0.1)
    assert model.mu == 1.0


def test_an_absurd_window_log_odds_is_clipped_not_a_nan_forever():
    stream = SequentialDecision(MODEL, 2.0)
    assert math.isfinite(stream.update(1e160).p_left)
    assert math.isfinite(stream.update(-0.5).p_left)
    with pytest.raises(ValueError, match="finite"):
        fit_decision_model(np.array([1.0, np.nan, 0.5, -1.0]), np.array([1, 1, 0, 0]),
                           np.array([0, 0, 1, 1]))


def test_each_recording_is_spliced_with_at_most_three_of_the_other_hand():
    z, y, session = simulate_sessions(16, 20, MODEL, seed=8)  # 8 recordings a hand
    result = switch_metrics(z, y, session, 2.0, MODEL.with_options(switch_rate=1 / 120))
    assert result["trials"] == 16 * 3
