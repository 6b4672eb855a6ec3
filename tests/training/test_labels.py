"""Snapshots, labels, censoring and the time split."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import make_export
from training.labels import (
    SnapshotScheme,
    SplitConfig,
    build_snapshots,
    build_training_examples,
    label_snapshots,
)

T0 = pd.Timestamp("2025-01-01")


def _day(n: float) -> str:
    return str(T0 + pd.Timedelta(days=n))


def test_snapshots_stop_when_an_opportunity_exists() -> None:
    export = make_export(
        [{"lead_id": "a", "created_at": _day(0)}, {"lead_id": "b", "created_at": _day(0)}],
        opportunities=[
            {
                "opportunity_id": "o1",
                "lead_id": "a",
                "created_at": _day(30),
                "closed_at": _day(50),
                "status": "won",
                "amount": 1.0,
            }
        ],
    )
    snaps = build_snapshots(export, T0 + pd.Timedelta(days=365), SnapshotScheme(14, 10))
    a = snaps[snaps["lead_id"] == "a"]
    b = snaps[snaps["lead_id"] == "b"]
    assert (a["as_of"] < T0 + pd.Timedelta(days=30)).all()
    assert len(a) in (2, 3)
    assert len(b) == 10
    gaps = b["as_of"].diff().dropna().unique()
    assert list(gaps) == [pd.Timedelta(days=14)]
    assert (b["age_days"] < 14 * 10).all()


def test_snapshots_respect_last_as_of() -> None:
    export = make_export([{"lead_id": "a", "created_at": _day(0)}])
    snaps = build_snapshots(export, T0 + pd.Timedelta(days=40), SnapshotScheme(14, 10))
    assert (snaps["as_of"] <= T0 + pd.Timedelta(days=40)).all()
    assert 2 <= len(snaps) <= 3


def test_label_is_won_within_horizon_after_as_of_only() -> None:
    opps = [
        # won 20 days after the snapshot: positive for a 30-day horizon
        {
            "opportunity_id": "o1",
            "lead_id": "a",
            "created_at": _day(10),
            "closed_at": _day(20),
            "status": "won",
            "amount": 1.0,
        },
        # won, but 60 days after the snapshot: negative for a 30-day horizon
        {
            "opportunity_id": "o2",
            "lead_id": "b",
            "created_at": _day(40),
            "closed_at": _day(60),
            "status": "won",
            "amount": 1.0,
        },
        # lost within the horizon: negative
        {
            "opportunity_id": "o3",
            "lead_id": "c",
            "created_at": _day(5),
            "closed_at": _day(10),
            "status": "lost",
            "amount": 1.0,
        },
        # still open: negative
        {
            "opportunity_id": "o4",
            "lead_id": "d",
            "created_at": _day(5),
            "closed_at": None,
            "status": "open",
            "amount": 1.0,
        },
    ]
    export = make_export(
        [{"lead_id": x, "created_at": _day(-1)} for x in "abcd"], opportunities=opps
    )
    snaps = pd.DataFrame({"lead_id": list("abcd"), "as_of": [T0] * 4})
    assert label_snapshots(snaps, export, 30).tolist() == [1, 0, 0, 0]
    assert label_snapshots(snaps, export, 61).tolist() == [1, 1, 0, 0]


def test_a_won_deal_before_as_of_is_not_a_label() -> None:
    export = make_export(
        [{"lead_id": "a", "created_at": _day(-100)}],
        opportunities=[
            {
                "opportunity_id": "o",
                "lead_id": "a",
                "created_at": _day(-50),
                "closed_at": _day(-40),
                "status": "won",
                "amount": 1.0,
            }
        ],
    )
    snaps = pd.DataFrame({"lead_id": ["a"], "as_of": [T0]})
    assert label_snapshots(snaps, export, 90).tolist() == [0]


def _world(n_days: int = 400) -> object:
    leads, opps = [], []
    for i in range(n_days):
        lead = f"l{i}"
        leads.append({"lead_id": lead, "created_at": _day(i)})
        if i % 5 == 0:
            opps.append(
                {
                    "opportunity_id": f"o{i}",
                    "lead_id": lead,
                    "created_at": _day(i + 20),
                    "closed_at": _day(i + 40),
                    "status": "won",
                    "amount": 1.0,
                }
            )
    return make_export(leads, opportunities=opps)


def test_censored_snapshots_are_left_out() -> None:
    export = _world()
    cutoff = T0 + pd.Timedelta(days=400)
    examples = build_training_examples(
        export, 90, cutoff, SnapshotScheme(14, 8), SplitConfig(60, 30)
    )
    snaps = examples.snapshots
    assert (snaps["as_of"] + pd.Timedelta(days=90) <= cutoff).all()
    # and the latest leads (created in the last 90 days) have no snapshot at all
    assert snaps["created_at"].max() <= cutoff - pd.Timedelta(days=90)


def test_split_is_ordered_in_time_and_leads_never_straddle() -> None:
    export = _world()
    examples = build_training_examples(
        export, 90, T0 + pd.Timedelta(days=400), SnapshotScheme(14, 8), SplitConfig(60, 30)
    )
    snaps = examples.snapshots
    created = snaps.groupby("cohort")["created_at"].agg(["min", "max"])
    assert created.loc["train", "max"] < created.loc["validation", "min"]
    assert created.loc["validation", "max"] < created.loc["holdout", "min"]
    assert (snaps.groupby("lead_id")["cohort"].nunique() == 1).all()
    holdout = snaps[snaps["cohort"] == "holdout"]
    assert (holdout["as_of"] >= examples.boundaries["holdout_start"]).all()


def test_too_short_history_says_so() -> None:
    export = _world(100)
    with pytest.raises(ValueError, match="too short"):
        build_training_examples(export, 90, T0 + pd.Timedelta(days=100))
