"""Tier policy: thresholds from shares, tier assignment, round trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.tiers import MQL, NURTURE, SQL, TierPolicy, assign_tier


def test_from_shares_puts_top_5_and_next_15_percent() -> None:
    p = np.linspace(0, 1, 10_001)
    policy = TierPolicy.from_shares(p, sql_share=0.05, mql_share=0.15)
    tiers = assign_tier(p, policy)
    assert np.mean(tiers == SQL) == pytest.approx(0.05, abs=0.001)
    assert np.mean(tiers == MQL) == pytest.approx(0.15, abs=0.001)
    assert np.mean(tiers == NURTURE) == pytest.approx(0.80, abs=0.001)


def test_assign_tier_at_thresholds() -> None:
    policy = TierPolicy(sql_threshold=0.3, mql_threshold=0.1)
    assert assign_tier(np.array([0.3, 0.29, 0.1, 0.09]), policy).tolist() == [
        SQL,
        MQL,
        MQL,
        NURTURE,
    ]


def test_policy_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="mql_threshold <= sql_threshold"):
        TierPolicy(sql_threshold=0.1, mql_threshold=0.2)


def test_policy_round_trips_through_dict() -> None:
    policy = TierPolicy(0.4, 0.2, version="7", basis={"sql_share": 0.05})
    assert TierPolicy.from_dict(policy.to_dict()) == policy
