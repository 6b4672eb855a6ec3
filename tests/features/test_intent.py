"""The pooled buying-intent features: lifts learned from labels, shrunk by support; peak and mix."""

from __future__ import annotations

import numpy as np
import pytest

from features.intent import PRIOR_ROWS, intent_values, learn_lifts

NEVER = np.nan


def _rows(n: int, days: float) -> np.ndarray:
    return np.full(n, days)


def test_a_type_done_before_wins_lifts_and_one_never_seen_stays_zero() -> None:
    # 2,000 rows: 200 with a fresh "hand-raise" (half of them won), 1,800 with a stale visit
    # (5 % won); a third type never seen.
    recency = np.column_stack(
        [
            np.r_[_rows(200, 0.5), _rows(1800, NEVER)],
            np.r_[_rows(200, NEVER), _rows(1800, 1.0)],
            np.full(2000, NEVER),
        ]
    )
    label = np.r_[np.arange(200) % 2 == 0, np.arange(1800) % 20 == 0].astype(float)
    lifts = learn_lifts(recency, label, None, half_life_days=3.0)
    base = label.mean()
    assert lifts[0] > 1.0  # about log(0.5 / 0.095), shrunk a little
    assert lifts[0] < np.log(0.5 / base)
    assert lifts[1] < 0
    assert lifts[2] == 0.0


def test_a_rare_type_is_shrunk_towards_no_signal() -> None:
    # Same rate (every row won) with 10 and 1,000 fresh rows: the rare one keeps less lift.
    def lift(n: int) -> float:
        recency = np.c_[np.r_[_rows(n, 0.0), _rows(5000, NEVER)]]
        label = np.r_[np.ones(n), np.arange(5000) % 10 == 0].astype(float)
        return float(learn_lifts(recency, label, None, 3.0)[0])

    assert 0 < lift(10) < 0.5 * lift(1000)
    assert PRIOR_ROWS > 10


def test_weights_count_rows_and_no_wins_learn_nothing() -> None:
    recency = np.c_[np.r_[_rows(50, 0.0), _rows(50, NEVER)]]
    label = np.r_[np.ones(50), np.zeros(50)]
    weighted = learn_lifts(recency, label, np.r_[np.ones(50), np.full(50, 3.0)], 3.0)
    plain = learn_lifts(recency, label, None, 3.0)
    assert weighted[0] > plain[0]  # the losses weigh 3x: the base rate falls
    assert (learn_lifts(recency, np.zeros(100), None, 3.0) == 0).all()


def test_a_lone_fresh_hand_raise_reads_its_lift_and_amid_a_burst_the_mix_falls() -> None:
    lifts = np.array([1.5, 0.2, -0.5])  # hand-raise, visit, careers page
    lone = np.array([[1.0, NEVER, NEVER]])
    burst = np.array([[1.0, 0.1, NEVER]])
    # Decayed counts: the lone one is all of the recent activity, amid 20 visits 1/21 of it.
    decayed = np.array([[1.0, 0.0, 0.0], [1.0, 20.0, 0.0]])
    peak, mix = intent_values(np.r_[lone, burst], decayed, decayed.sum(axis=1), lifts, 3.0)
    assert peak[0] == pytest.approx(1.5 * 0.5 ** (1 / 3))
    assert peak[1] == peak[0]  # the strongest fresh activity, whatever else happened
    assert mix[0] == pytest.approx(1.5)
    assert mix[1] == pytest.approx((1.5 + 20 * 0.2) / 21)
    # Without activity both are 0; a job seeker's careers page never makes a peak.
    none_peak, none_mix = intent_values(
        np.array([[NEVER, NEVER, NEVER], [NEVER, NEVER, 0.5]]),
        np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.8]]),
        np.array([0.0, 0.8]),
        lifts,
        3.0,
    )
    assert none_peak.tolist() == [0.0, 0.0]
    assert none_mix.tolist() == [0.0, -0.5]
