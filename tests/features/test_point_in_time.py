"""Property-based: a snapshot's row depends only on what happened strictly before its as_of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import info as fi
from features.build import LeadFeaturizer
from features.history import LeadHistory
from features.info import FeatureInfo

START = pd.Timestamp("2024-01-01")
MINUTE = pd.Timedelta(minutes=1)
DAY_MINUTES = 24 * 60
TYPES = ("page_view", "email_open", "demo_request", "Odd Type!")
SETTINGS = settings(max_examples=60, deadline=None)
# Share features, explicitly (they are off where the pooled intent mix replaces them).
PARAMS = {"min_activity_count": 2, "min_category_count": 1, "share_half_lives_days": (3,)}


@dataclass(frozen=True)
class World:
    history: LeadHistory
    featurizer: LeadFeaturizer
    labels: np.ndarray  # of the snapshots, that the intent lifts were learned from


def _frames(
    created: list[int],
    attrs: list[tuple[str | None, float | None]],
    acts: list[tuple[int, int, str]],
    snaps: list[tuple[int, int]],
) -> LeadHistory:
    ids = [f"L{i}" for i in range(len(created))]
    leads = pd.DataFrame(
        {
            "lead_id": ids,
            "created_at": [START + m * MINUTE for m in created],
            "source": [a[0] for a in attrs],
            "campaign": None,
            "country": [a[0] for a in attrs],
            "industry": None,
            "company_size": [np.nan if a[1] is None else a[1] for a in attrs],
            "job_title": "Head of Sales",
            "email_domain": "gmail.com",
            "custom_score": [a[1] for a in attrs],
        }
    )
    activities = pd.DataFrame(
        {
            "lead_id": pd.Series([ids[i] for i, _, _ in acts], dtype="str"),
            "occurred_at": pd.Series(
                [START + m * MINUTE for _, m, _ in acts], dtype="datetime64[ns]"
            ),
            "activity_type": pd.Series([t for _, _, t in acts], dtype="str"),
        }
    )
    snapshots = pd.DataFrame(
        {
            "lead_id": [ids[i] for i, _ in snaps],
            "as_of": pd.Series([START + m * MINUTE for _, m in snaps], dtype="datetime64[ns]"),
        }
    )
    return LeadHistory(leads, activities, snapshots)


Drawn = tuple[World, list[tuple[int, int, str]], list[tuple[int, int]]]


@st.composite
def worlds(draw: st.DrawFn) -> Drawn:
    n_leads = draw(st.integers(1, 4))
    created = draw(st.lists(st.integers(0, 30 * DAY_MINUTES), min_size=n_leads, max_size=n_leads))
    attrs = draw(
        st.lists(
            st.tuples(st.sampled_from(["web", "ads", None]), st.sampled_from([None, 10.0, 5e3])),
            min_size=n_leads,
            max_size=n_leads,
        )
    )
    # Times on a coarse grid (days, hours) or fine minutes, so ties and window edges happen.
    minute = st.one_of(
        st.integers(0, 200).map(lambda d: d * DAY_MINUTES),
        st.integers(0, 200 * 24).map(lambda h: h * 60),
        st.integers(0, 200 * DAY_MINUTES),
    )
    acts = draw(
        st.lists(
            st.tuples(st.integers(0, n_leads - 1), minute, st.sampled_from(TYPES)), max_size=40
        )
    )
    snap_leads = draw(st.lists(st.integers(0, n_leads - 1), min_size=1, max_size=6))
    snaps = [(i, created[i] + draw(minute)) for i in snap_leads]
    base = _frames(created, attrs, acts, snaps)
    featurizer = LeadFeaturizer(**PARAMS).fit(base)
    # With learned lifts (labels drawn), so the pooled intent features are checked too.
    labels = draw(st.lists(st.integers(0, 1), min_size=len(snaps), max_size=len(snaps)))
    rows = np.arange(len(snaps))
    featurizer.fit_intent(featurizer.transform(base), np.array(labels), None, rows)
    return World(base, featurizer, np.array(labels)), acts, snaps


def _rebuild(world: World, acts: list[tuple[int, int, str]]) -> LeadHistory:
    """The world's history with a different activity list."""
    ids = world.history.leads["lead_id"].tolist()
    activities = pd.DataFrame(
        {
            "lead_id": pd.Series([ids[i] for i, _, _ in acts], dtype="str"),
            "occurred_at": pd.Series(
                [START + m * MINUTE for _, m, _ in acts], dtype="datetime64[ns]"
            ),
            "activity_type": pd.Series([t for _, _, t in acts], dtype="str"),
        }
    )
    return LeadHistory(world.history.leads, activities, world.history.snapshots)


def _assert_rows_equal(a: pd.DataFrame, b: pd.DataFrame, rows: list[int]) -> None:
    pd.testing.assert_frame_equal(
        a.iloc[rows].reset_index(drop=True), b.iloc[rows].reset_index(drop=True), check_exact=True
    )


@SETTINGS
@given(data=worlds(), extra=st.data())
def test_activity_at_or_after_as_of_never_changes_the_row(
    data: Drawn, extra: st.DataObject
) -> None:
    world, acts, snaps = data
    added = []
    for _ in range(extra.draw(st.integers(1, 4))):
        lead, as_of = snaps[extra.draw(st.integers(0, len(snaps) - 1))]
        delay = extra.draw(st.one_of(st.just(0), st.integers(0, 100 * DAY_MINUTES)))
        kind = extra.draw(st.sampled_from([*TYPES, "never_seen_before"]))
        added.append((lead, as_of + delay, kind))
    before = world.featurizer.transform(world.history)
    after = world.featurizer.transform(_rebuild(world, acts + added))
    untouched = [
        k
        for k, (lead, as_of) in enumerate(snaps)
        if all(t >= as_of for i, t, _ in added if i == lead)
    ]
    assert untouched  # the snapshot each addition was placed after is always among them
    _assert_rows_equal(before, after, untouched)


@SETTINGS
@given(data=worlds(), pick=st.data())
def test_deleting_activities_after_as_of_changes_nothing(data: Drawn, pick: st.DataObject) -> None:
    world, acts, snaps = data
    lead, cut = snaps[pick.draw(st.integers(0, len(snaps) - 1))]
    kept = [(i, t, k) for i, t, k in acts if not (i == lead and t >= cut)]
    before = world.featurizer.transform(world.history)
    after = world.featurizer.transform(_rebuild(world, kept))
    untouched = [k for k, (i, as_of) in enumerate(snaps) if i != lead or as_of <= cut]
    _assert_rows_equal(before, after, untouched)


@SETTINGS
@given(data=worlds(), seed=st.integers(0, 2**32 - 1))
def test_shuffling_input_rows_changes_nothing(data: Drawn, seed: int) -> None:
    world, _, _ = data
    rng = np.random.default_rng(seed)
    h = world.history
    order = rng.permutation(len(h.snapshots))
    shuffled = LeadHistory(
        h.leads.iloc[rng.permutation(len(h.leads))],
        h.activities.iloc[rng.permutation(len(h.activities))],
        h.snapshots.iloc[order],
    )
    refit = LeadFeaturizer(**PARAMS).fit(shuffled)
    rows = np.arange(len(order))
    refit.fit_intent(refit.transform(shuffled), world.labels[order], None, rows)
    assert refit.feature_names_out_ == world.featurizer.feature_names_out_
    expected = world.featurizer.transform(h).iloc[order].reset_index(drop=True)
    got = refit.transform(shuffled)
    # The lifts are sums over the rows: their order moves only the last bits.
    pooled = [n for n in got.columns if "__intent_" in n]
    pd.testing.assert_frame_equal(got.drop(columns=pooled), expected.drop(columns=pooled))
    np.testing.assert_allclose(got[pooled], expected[pooled], rtol=1e-12, atol=1e-15)


@SETTINGS
@given(data=worlds(), pick=st.data())
def test_lead_alone_equals_lead_in_batch(data: Drawn, pick: st.DataObject) -> None:
    world, _, _ = data
    h = world.history
    k = pick.draw(st.integers(0, len(h.snapshots) - 1))
    lead_id = h.snapshots["lead_id"].iloc[k]
    alone = LeadHistory(
        h.leads[h.leads["lead_id"] == lead_id],
        h.activities[h.activities["lead_id"] == lead_id],
        h.snapshots.iloc[[k]],
    )
    batch = world.featurizer.transform(h)
    _assert_rows_equal(world.featurizer.transform(alone), batch.iloc[[k]], [0])


def _reference(
    info: FeatureInfo,
    before: list[tuple[float, str, int]],
    vocab: list[str],
    lifts: dict[str, float],
) -> float:
    """A feature by brute force from (age in days, type, calendar day) of earlier activities."""
    if info.kind in (fi.INTENT_PEAK, fi.INTENT_MIX):
        assert info.half_life_days is not None
        h = info.half_life_days
        lift = [lifts[a[1] if a[1] in vocab else fi.OTHER_ACTIVITY] for a in before]
        fresh = [0.5 ** (a[0] / h) for a in before]
        if info.kind == fi.INTENT_PEAK:
            return max((max(v, 0.0) * f for v, f in zip(lift, fresh, strict=True)), default=0.0)
        total = sum(fresh)
        return sum(v * f for v, f in zip(lift, fresh, strict=True)) / total if total else 0.0
    if info.activity_type is None:
        chosen = before
    elif info.activity_type == fi.OTHER_ACTIVITY:
        chosen = [a for a in before if a[1] not in vocab]
    else:
        chosen = [a for a in before if a[1] == info.activity_type]
    window = info.window_days
    in_window = [a for a in chosen if window is None or a[0] <= window]
    if info.kind == fi.COUNT:
        return len(in_window)
    if info.kind == fi.DAYS_SINCE_LAST:
        return min((a[0] for a in chosen), default=float("nan"))
    if info.kind == fi.DECAYED_COUNT:
        assert info.half_life_days is not None
        return sum(0.5 ** (a[0] / info.half_life_days) for a in chosen)
    if info.kind == fi.SHARE:
        assert info.half_life_days is not None
        total = sum(0.5 ** (a[0] / info.half_life_days) for a in before)
        mine = sum(0.5 ** (a[0] / info.half_life_days) for a in chosen)
        return mine / total if total > 0 else 0.0
    if info.kind == fi.ACTIVE_DAYS:
        return len({a[2] for a in in_window})
    if info.kind == fi.VELOCITY:
        recent = sum(a[0] <= 7 for a in chosen) / 7
        earlier = sum(7 < a[0] <= 30 for a in chosen) / 23
        return 0.0 if recent + earlier == 0 else (recent - earlier) / (recent + earlier)
    raise AssertionError(f"no reference for {info.kind}")


@SETTINGS
@given(data=worlds())
def test_activity_features_match_brute_force(data: Drawn) -> None:
    world, acts, snaps = data
    featurizer = world.featurizer
    out = featurizer.transform(world.history)
    for k, (lead, as_of) in enumerate(snaps):
        before = [
            ((as_of - t) / DAY_MINUTES, kind, t // DAY_MINUTES)
            for i, t, kind in acts
            if i == lead and t < as_of
        ]
        for name, info in featurizer.feature_info_.items():
            if info.group != "engagement" or info.kind == fi.LEAD_AGE:
                continue
            lifts = featurizer.intent_lifts_
            assert lifts is not None
            expected = _reference(info, before, featurizer.activity_types_, lifts)
            got = out[name].iloc[k]
            if np.isnan(expected):
                assert np.isnan(got), name
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), name
