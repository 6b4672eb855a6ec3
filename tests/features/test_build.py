"""LeadFeaturizer: hand-worked values, categories, extras, errors, batch vs alone, pickling."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from features import info as fi
from features.activity import activity_stats, stats_layout
from features.build import MISSING_LEVEL, OTHER_LEVEL, LeadFeaturizer
from features.history import LeadHistory
from tests.features.histories import (
    activity_frame,
    history,
    lead_frame,
    only_lead,
    random_history,
    snapshot_frame,
)

AS_OF = "2024-03-03 00:00"
# Lead "a" as of 2024-03-03: ages in days are worked out by hand in the comments
# (2024 is a leap year: February has 29 days).
HAND_ACTIVITIES = [
    ("a", "2024-01-10 00:00", "email_open"),  # 53 days
    ("a", "2024-02-01 00:00", "page_view"),  # 31 days
    ("a", "2024-02-15 00:00", "page_view"),  # 17 days
    ("a", "2024-02-25 00:00", "webinar"),  # 7 days exactly: unseen type -> other
    ("a", "2024-03-01 00:00", "demo_request"),  # 2 days
    ("a", "2024-03-02 12:00", "page_view"),  # 0.5 days
    ("a", "2024-03-03 00:00", "page_view"),  # at as_of: not before it
    ("a", "2024-03-05 00:00", "demo_request"),  # after as_of
    ("b", "2024-03-02 00:00", "demo_request"),  # another lead
]
HAND_LEAD = {
    "lead_id": "a",
    "created_at": "2024-01-01 00:00",
    "source": "web",
    "country": "US",
    "company_size": 5000,
    "job_title": "VP of Marketing",
    "email_domain": "acme.com",
}
OTHER_LEAD = {"lead_id": "b", "created_at": "2024-01-01 00:00"}


def fitted(**params: Any) -> LeadFeaturizer:
    """A featurizer whose vocabulary is page_view, email_open, demo_request (webinar unseen)."""
    leads = [
        {"lead_id": "f1", "created_at": "2023-01-01", "source": "web", "country": "US"},
        {"lead_id": "f2", "created_at": "2023-01-01", "source": "ads", "country": "DE"},
    ]
    acts = [
        (lead, "2023-02-01", kind)
        for lead in ("f1", "f2")
        for kind in ("page_view", "email_open", "demo_request")
    ]
    snaps = [("f1", "2023-06-01"), ("f2", "2023-06-01")]
    defaults: dict[str, Any] = {"min_activity_count": 2, "min_category_count": 1}
    return LeadFeaturizer(**{**defaults, **params}).fit(history(leads, acts, snaps))


def hand_row() -> pd.Series:
    featurizer = fitted()
    features = featurizer.transform(
        history([HAND_LEAD, OTHER_LEAD], HAND_ACTIVITIES, [("a", AS_OF)])
    )
    assert len(features) == 1
    return features.iloc[0]


def test_vocabulary_and_names() -> None:
    featurizer = fitted()
    assert featurizer.activity_types_ == ["demo_request", "email_open", "page_view"]
    names = featurizer.feature_names_out_
    assert list(featurizer.get_feature_names_out()) == names
    assert len(set(names)) == len(names)
    for slug in ("demo_request", "email_open", "page_view", "other", "any"):
        assert f"act__{slug}__count_7d" in names
        assert f"act__{slug}__decayed_hl14d" in names


def test_windowed_counts_on_hand_worked_example() -> None:
    row = hand_row()
    expected = {
        "demo_request": (1, 1, 1, 1),
        "page_view": (1, 2, 3, 3),  # 0.5 d; 17 d; 31 d
        "email_open": (0, 0, 1, 1),  # 53 d
        "other": (1, 1, 1, 1),  # webinar 7 d before: windows include their start
        "any": (3, 4, 6, 6),
    }
    for slug, (c7, c30, c90, call) in expected.items():
        got = [row[f"act__{slug}__count_{w}"] for w in ("7d", "30d", "90d", "all")]
        assert got == [c7, c30, c90, call], slug


def test_days_since_last_on_hand_worked_example() -> None:
    row = hand_row()
    assert row["act__demo_request__days_since_last"] == 2.0
    assert row["act__page_view__days_since_last"] == 0.5
    assert row["act__email_open__days_since_last"] == 53.0
    assert row["act__other__days_since_last"] == 7.0
    assert row["act__any__days_since_last"] == 0.5
    assert row["lead__age_days"] == 62.0


def test_decayed_counts_on_hand_worked_example() -> None:
    row = hand_row()
    for h in (3, 14, 60):
        assert row[f"act__demo_request__decayed_hl{h}d"] == pytest.approx(0.5 ** (2 / h))
        assert row[f"act__page_view__decayed_hl{h}d"] == pytest.approx(
            0.5 ** (0.5 / h) + 0.5 ** (17 / h) + 0.5 ** (31 / h)
        )
        assert row[f"act__other__decayed_hl{h}d"] == pytest.approx(0.5 ** (7 / h))
        ages = (53, 31, 17, 7, 2, 0.5)
        assert row[f"act__any__decayed_hl{h}d"] == pytest.approx(sum(0.5 ** (a / h) for a in ages))


def test_active_days_and_velocity_on_hand_worked_example() -> None:
    row = hand_row()
    # Jan 10, Feb 1, Feb 15, Feb 25, Mar 1, Mar 2; the last 30 days start on Feb 2.
    assert row["act__any__active_days_all"] == 6
    assert row["act__any__active_days_30d"] == 4
    recent, earlier = 3 / 7, 1 / 23  # 3 in the last 7 days; Feb 15 in the 23 days before
    assert row["act__any__velocity_7d_vs_30d"] == pytest.approx(
        (recent - earlier) / (recent + earlier)
    )


def test_lead_attributes_on_hand_worked_example() -> None:
    row = hand_row()
    assert row["lead__source"] == "web"
    assert row["lead__country"] == "US"
    assert row["lead__industry"] == MISSING_LEVEL
    assert row["lead__campaign"] == MISSING_LEVEL
    assert row["lead__seniority"] == "vp"
    assert row["lead__department"] == "marketing"
    assert row["lead__company_size_log1p"] == pytest.approx(math.log(5001))
    assert row["lead__free_mail"] == 0.0


def test_no_activity_gives_zero_counts_and_nan_recency() -> None:
    featurizer = fitted()
    features = featurizer.transform(history([HAND_LEAD], [], [("a", AS_OF)]))
    row = features.iloc[0]
    for name, info in featurizer.feature_info_.items():
        if info.kind in (fi.COUNT, fi.DECAYED_COUNT, fi.ACTIVE_DAYS, fi.VELOCITY):
            assert row[name] == 0.0, name
        elif info.kind == fi.DAYS_SINCE_LAST:
            assert np.isnan(row[name]), name


def test_missing_values_are_handled() -> None:
    featurizer = fitted()
    lead = {"lead_id": "m", "created_at": "2024-01-01", "source": "  ", "company_size": None}
    row = featurizer.transform(history([lead], [], [("m", AS_OF)])).iloc[0]
    assert row["lead__source"] == MISSING_LEVEL  # blank counts as missing
    assert row["lead__country"] == MISSING_LEVEL
    assert row["lead__seniority"] == "unknown"
    assert row["lead__department"] == "unknown"
    assert np.isnan(row["lead__company_size_log1p"])
    assert np.isnan(row["lead__free_mail"])


def test_unseen_and_rare_levels_go_to_other() -> None:
    leads = [
        {"lead_id": f"l{i}", "created_at": "2024-01-01", "country": country}
        for i, country in enumerate(["US", "US", "US", "DE", "DE", "FR", None])
    ]
    snaps = [(f"l{i}", AS_OF) for i in range(len(leads))]
    fit_history = history(leads, [], snaps)
    featurizer = LeadFeaturizer(min_category_count=2).fit(fit_history)
    assert featurizer.categories_["lead__country"] == ["DE", "US", OTHER_LEVEL, MISSING_LEVEL]
    scored = history(
        [*leads, {"lead_id": "new", "created_at": "2024-01-01", "country": " JP "}],
        [],
        [*snaps, ("new", AS_OF)],
    )
    country = featurizer.transform(scored)["lead__country"]
    assert list(country) == ["US", "US", "US", "DE", "DE", OTHER_LEVEL, MISSING_LEVEL, OTHER_LEVEL]
    assert list(country.cat.categories) == featurizer.categories_["lead__country"]

    capped = LeadFeaturizer(min_category_count=1, max_category_levels=1).fit(fit_history)
    assert capped.categories_["lead__country"] == ["US", OTHER_LEVEL, MISSING_LEVEL]


def test_unseen_activity_types_go_to_other() -> None:
    featurizer = fitted()
    acts = [("a", "2024-03-01", "brand_new_type"), ("a", "2024-03-02", "another one")]
    row = featurizer.transform(history([HAND_LEAD], acts, [("a", AS_OF)])).iloc[0]
    assert row["act__other__count_all"] == 2
    assert row["act__other__days_since_last"] == 1.0
    assert row["act__any__count_all"] == 2
    assert row["act__page_view__count_all"] == 0


def test_vocabulary_only_counts_activities_before_the_last_snapshot() -> None:
    leads = [{"lead_id": "a", "created_at": "2024-01-01"}]
    acts = [("a", "2024-02-01", "early")] * 3 + [("a", "2024-04-01", "late")] * 3
    featurizer = LeadFeaturizer(min_activity_count=3).fit(history(leads, acts, [("a", AS_OF)]))
    assert featurizer.activity_types_ == ["early"]


def test_feature_info_describes_every_column() -> None:
    featurizer = fitted()
    out = featurizer.transform(history([HAND_LEAD, OTHER_LEAD], HAND_ACTIVITIES, [("a", AS_OF)]))
    assert list(out.columns) == featurizer.feature_names_out_
    assert list(featurizer.feature_info_) == featurizer.feature_names_out_
    for name, info in featurizer.feature_info_.items():
        assert info.name == name
        assert info.group in ("fit", "engagement")
        assert info.categorical == (name in featurizer.categorical_features_)
        if info.categorical:
            assert isinstance(out[name].dtype, pd.CategoricalDtype)
            assert list(out[name].cat.categories) == featurizer.categories_[name]
        else:
            assert out[name].dtype == np.float64
    demo = featurizer.feature_info_["act__demo_request__days_since_last"]
    assert (demo.group, demo.kind, demo.activity_type) == (
        "engagement",
        "days_since_last",
        "demo_request",
    )
    decayed = featurizer.feature_info_["act__other__decayed_hl14d"]
    assert (decayed.activity_type, decayed.half_life_days) == (fi.OTHER_ACTIVITY, 14.0)
    count = featurizer.feature_info_["act__any__count_30d"]
    assert (count.activity_type, count.window_days) == (None, 30.0)
    size = featurizer.feature_info_["lead__company_size_log1p"]
    assert (size.group, size.kind, size.source_column) == ("fit", fi.LOG1P, "company_size")


def test_output_follows_snapshot_order_with_a_range_index() -> None:
    featurizer = fitted()
    snaps = snapshot_frame([("a", AS_OF), ("b", AS_OF), ("a", "2024-01-20")])
    snaps.index = [10, 5, 7]
    out = featurizer.transform(
        LeadHistory(lead_frame([HAND_LEAD, OTHER_LEAD]), activity_frame(HAND_ACTIVITIES), snaps)
    )
    assert isinstance(out.index, pd.RangeIndex) and len(out) == 3
    assert out["act__any__count_all"].tolist() == [6, 1, 1]
    assert out["lead__age_days"].tolist() == [62, 62, 19]


def test_not_fitted_raises() -> None:
    with pytest.raises(NotFittedError):
        LeadFeaturizer().transform(history([HAND_LEAD], [], [("a", AS_OF)]))
    with pytest.raises(NotFittedError):
        LeadFeaturizer().get_feature_names_out()


def test_lead_created_after_as_of_raises_naming_it() -> None:
    featurizer = fitted()
    with pytest.raises(ValueError, match=r"created after.*'a'"):
        featurizer.transform(history([HAND_LEAD], [], [("a", "2023-12-31")]))


@pytest.mark.parametrize(
    ("leads", "snaps", "message"),
    [
        ([HAND_LEAD], [("zzz", AS_OF)], "not in the leads table.*zzz"),
        ([HAND_LEAD, HAND_LEAD], [("a", AS_OF)], "duplicate lead_id.*'a'"),
    ],
)
def test_bad_inputs_raise_clear_errors(leads: list, snaps: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fitted().transform(history(leads, [], snaps))


def test_transform_rejects_other_inputs() -> None:
    with pytest.raises(TypeError, match="LeadHistory"):
        fitted().transform(pd.DataFrame())  # type: ignore[arg-type]  # the point of the test


def test_timezone_aware_and_coarse_timestamps_mean_the_same_instants() -> None:
    featurizer = fitted()
    base = history([HAND_LEAD, OTHER_LEAD], HAND_ACTIVITIES, [("a", AS_OF)])
    acts = base.activities.copy()
    acts["occurred_at"] = acts["occurred_at"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    snaps = base.snapshots.copy()
    snaps["as_of"] = snaps["as_of"].astype("datetime64[us]")
    other = LeadHistory(base.leads, acts, snaps)
    pd.testing.assert_frame_equal(featurizer.transform(base), featurizer.transform(other))


def test_lead_alone_equals_lead_in_batch() -> None:
    batch = random_history(n_leads=120, n_activities=3000, snapshots_per_lead=3, seed=7)
    featurizer = LeadFeaturizer(min_activity_count=50, min_category_count=5).fit(batch)
    assert "rare_type" not in featurizer.activity_types_
    features = featurizer.transform(batch)
    for position in (0, 1, 2, 3, 150, 299, 359):
        lead_id = batch.snapshots["lead_id"].iloc[position]
        as_of = batch.snapshots["as_of"].iloc[position]
        alone = featurizer.transform(only_lead(batch, lead_id, [as_of]))
        pd.testing.assert_frame_equal(
            alone, features.iloc[[position]].reset_index(drop=True), check_exact=True
        )


def test_pickle_roundtrip_gives_identical_output() -> None:
    batch = random_history(n_leads=40, n_activities=600, snapshots_per_lead=2, seed=3)
    featurizer = LeadFeaturizer(min_activity_count=10, min_category_count=3).fit(batch)
    restored = pickle.loads(pickle.dumps(featurizer))
    pd.testing.assert_frame_equal(
        featurizer.transform(batch), restored.transform(batch), check_exact=True
    )
    assert restored.feature_info_ == featurizer.feature_info_


def test_fitted_state_as_json_rebuilds_an_identical_featurizer() -> None:
    """What a model artifact stores of the featurizer: plain JSON, the rest derived again."""
    import json

    batch = random_history(n_leads=40, n_activities=600, snapshots_per_lead=2, seed=3)
    featurizer = LeadFeaturizer(min_activity_count=10, min_category_count=3).fit(batch)
    state = json.loads(json.dumps(featurizer.fitted_state()))
    restored = LeadFeaturizer.from_fitted_state(state)
    pd.testing.assert_frame_equal(
        featurizer.transform(batch), restored.transform(batch), check_exact=True
    )
    assert restored.feature_info_ == featurizer.feature_info_


def test_a_state_stored_before_share_features_reads_without_them() -> None:
    batch = random_history(n_leads=40, n_activities=600, snapshots_per_lead=2, seed=3)
    featurizer = LeadFeaturizer(
        min_activity_count=10, min_category_count=3, share_half_lives_days=(3,)
    ).fit(batch)
    state = featurizer.fitted_state()
    assert any(name.endswith("__share_hl3d") for name in featurizer.feature_names_out_)
    del state["params"]["share_half_lives_days"]
    old = LeadFeaturizer.from_fitted_state(state)
    kept = [n for n in featurizer.feature_names_out_ if "__share_" not in n]
    assert old.feature_names_out_ == kept
    pd.testing.assert_frame_equal(
        old.transform(batch), featurizer.transform(batch)[kept], check_exact=True
    )


def test_intent_lifts_are_stored_and_a_state_stored_before_them_reads_without_them() -> None:
    import json

    batch = random_history(n_leads=40, n_activities=600, snapshots_per_lead=2, seed=3)
    featurizer = LeadFeaturizer(min_activity_count=10, min_category_count=3).fit(batch)
    before = featurizer.transform(batch)
    old_state = json.loads(json.dumps(featurizer.fitted_state()))
    labels = np.arange(len(before)) % 3 == 0
    featurizer.fit_intent(before, labels.astype(float), None, np.arange(len(before)))
    after = featurizer.transform(batch)
    pooled = ["act__any__intent_peak_hl3d", "act__any__intent_mix_hl3d"]
    assert list(after.columns) == [*before.columns, *pooled]
    # The training path appends them from the features already built: the same values.
    np.testing.assert_allclose(
        featurizer.intent_frame(before).to_numpy(), after[pooled].to_numpy(), rtol=1e-12
    )
    restored = LeadFeaturizer.from_fitted_state(json.loads(json.dumps(featurizer.fitted_state())))
    pd.testing.assert_frame_equal(restored.transform(batch), after, check_exact=True)
    # A model stored before the intent features (no lifts, no intent half-life) reads as it did.
    del old_state["intent_lifts"], old_state["params"]["intent_half_life_days"]
    pd.testing.assert_frame_equal(
        LeadFeaturizer.from_fitted_state(old_state).transform(batch), before, check_exact=True
    )


def test_fit_transform_equals_fit_then_transform() -> None:
    batch = random_history(n_leads=30, n_activities=300, snapshots_per_lead=2, seed=5)
    params = {"min_activity_count": 10, "min_category_count": 3}
    together = LeadFeaturizer(**params).fit_transform(batch)
    apart = LeadFeaturizer(**params).fit(batch).transform(batch)
    pd.testing.assert_frame_equal(together, apart, check_exact=True)


@pytest.mark.parametrize(
    "params",
    [
        {"windows_days": ()},
        {"half_lives_days": (0,)},
        {"share_half_lives_days": (5,)},
        {"intent_half_life_days": 5.0},
    ],
)
def test_invalid_params_raise(params: dict) -> None:
    with pytest.raises(ValueError):
        LeadFeaturizer(**params).fit(history([HAND_LEAD], [], [("a", AS_OF)]))


def test_decayed_counts_are_the_same_in_small_chunks() -> None:
    rng = np.random.default_rng(11)
    n_acts, n_snaps, n_leads, n_types = 2000, 300, 40, 4
    act_lead = rng.integers(0, n_leads, n_acts)
    act_time = rng.integers(0, 200, n_acts) * 86_400 * 10**9
    act_type = rng.integers(0, n_types, n_acts)
    snap_lead = rng.integers(0, n_leads, n_snaps)
    snap_time = rng.integers(0, 220, n_snaps) * 86_400 * 10**9
    args = (act_lead, act_time, act_type, n_types, snap_lead, snap_time, n_leads)
    rest = ([7.0, 30.0], [3.0, 60.0], 30.0, (7.0, 30.0))
    whole = activity_stats(*args, *rest)
    chunked = activity_stats(*args, *rest, max_pairs=50)
    np.testing.assert_array_equal(whole.matrix, chunked.matrix)
    # And a brute-force all-time count and decayed count per snapshot.
    layout = stats_layout(n_types, [7.0, 30.0], [3.0, 60.0], 30.0, 7.0)
    before = (act_lead[None, :] == snap_lead[:, None]) & (act_time[None, :] < snap_time[:, None])
    total = whole.get(layout, (fi.COUNT, n_types, None))
    np.testing.assert_array_equal(total, before.sum(axis=1))
    age = (snap_time[:, None] - act_time[None, :]) / (86_400 * 10**9)
    decayed = np.where(before, 0.5 ** (age / 3.0), 0.0).sum(axis=1)
    np.testing.assert_allclose(whole.get(layout, (fi.DECAYED_COUNT, n_types, 3.0)), decayed)


def test_works_inside_a_pandas_pipeline() -> None:
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    featurizer = fitted()
    data = history([HAND_LEAD, OTHER_LEAD], HAND_ACTIVITIES, [("a", AS_OF)])
    pipeline = make_pipeline(clone(featurizer)).set_output(transform="pandas")
    expected = clone(featurizer).fit(data).transform(data)
    pd.testing.assert_frame_equal(pipeline.fit(data).transform(data), expected, check_exact=True)
