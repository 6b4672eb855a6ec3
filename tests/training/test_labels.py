"""Snapshots, labels, censoring and the time split."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import make_export
from training.labels import (
    SnapshotScheme,
    SplitConfig,
    build_activity_snapshots,
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


def _acting_world() -> object:
    """_world's leads, each acting daily from creation for 30 days."""
    base = _world()
    activities = [
        {"lead_id": lead, "occurred_at": str(created + pd.Timedelta(days=d)), "activity_type": "x"}
        for lead, created in zip(base.leads["lead_id"], base.leads["created_at"], strict=True)
        for d in range(30)
    ]
    return make_export(
        base.leads[["lead_id", "created_at"]].to_dict("records"),
        activities,
        base.opportunities.astype({"created_at": str, "closed_at": str}).to_dict("records"),
    )


def test_activity_snapshots_follow_activities_and_stop_at_the_opportunity() -> None:
    export = _acting_world()
    last = T0 + pd.Timedelta(days=300)
    scheme = SnapshotScheme(14, 8, activity_share=0.5, activity_delay_days=2.0, activity_per_type=0)
    snaps = build_activity_snapshots(export, last, scheme)
    picked = len(snaps) / len(export.activities)
    assert 0.3 < picked < 0.5  # about half, less those after an opportunity or last_as_of
    acts = export.activities.merge(snaps, on="lead_id")
    delay = (acts["as_of"] - acts["occurred_at"]).dt.total_seconds() / 86_400
    # every snapshot lies up to 2 days after one of its lead's activities
    assert acts.assign(near=delay.between(0, 2)).groupby(["lead_id", "as_of"])["near"].any().all()
    opened = export.opportunities.set_index("lead_id")["created_at"]
    assert (snaps["as_of"] < snaps["lead_id"].map(opened).fillna(pd.Timestamp.max)).all()
    assert (snaps["as_of"] <= last).all()
    again = build_activity_snapshots(export, last, scheme)
    pd.testing.assert_frame_equal(snaps, again)  # the pick is seeded
    none = build_activity_snapshots(
        export, last, SnapshotScheme(activity_share=0.0, activity_per_type=0)
    )
    assert none.empty and list(none.columns) == list(snaps.columns)


def test_rare_activity_types_get_more_snapshots() -> None:
    export = _acting_world()
    last = T0 + pd.Timedelta(days=300)
    counts = export.activities["activity_type"].value_counts()
    per_type = int(counts.min()) * 2  # the rarest type: two looks per activity
    scheme = SnapshotScheme(14, 8, activity_share=0.0, activity_per_type=per_type)
    snaps = build_activity_snapshots(export, last, scheme)
    acts = export.activities
    looked = snaps.merge(acts, on="lead_id")
    delay = (looked["as_of"] - looked["occurred_at"]).dt.total_seconds() / 86_400
    near = looked[delay.between(0, 2)]
    rarest = counts.idxmin()
    rare_rows = near.loc[near["activity_type"] == rarest, ["lead_id", "as_of"]].drop_duplicates()
    # Up to two looks per activity of the rarest type (fewer after an opportunity or the end).
    assert 0 < len(rare_rows) <= 2 * counts.min()
    assert len(snaps) <= scheme.activity_per_type * len(counts) * 2
    once = build_activity_snapshots(
        export, last, SnapshotScheme(14, 8, activity_share=0.0, activity_per_type=per_type // 2)
    )
    assert len(snaps) > 1.5 * len(once)  # the rarest types' activities are looked at twice


def test_activity_snapshots_are_labelled_and_never_in_validation() -> None:
    export = _acting_world()
    cutoff = T0 + pd.Timedelta(days=400)
    examples = build_training_examples(
        export, 90, cutoff, SnapshotScheme(14, 8, activity_share=0.3), SplitConfig(60, 30)
    )
    extra = examples.activity_snapshots
    assert set(extra["cohort"]) == {"train", "holdout"}
    assert (extra["as_of"] + pd.Timedelta(days=90) <= cutoff).all()
    # leads with a won opportunity 20 days after creation: snapshots before it are positive
    won = extra["lead_id"].str[1:].astype(int) % 5 == 0
    assert extra.loc[won, "label"].eq(1).all() and extra.loc[~won, "label"].eq(0).all()
    # the periodic snapshots, and so everything evaluated, are as without them
    periodic = build_training_examples(
        export,
        90,
        cutoff,
        SnapshotScheme(14, 8, activity_share=0.0, activity_per_type=0),
        SplitConfig(60, 30),
    )
    pd.testing.assert_frame_equal(examples.snapshots, periodic.snapshots)
    assert periodic.activity_snapshots.empty
