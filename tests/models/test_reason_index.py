"""Which reason each contribution speaks for: every feature of an activity type is its type's,
and the features over all activities are handed on to the types behind them."""

from __future__ import annotations

import numpy as np
import pytest

from features import info as fi
from features.build import LeadFeaturizer
from models.scorer import plan_reasons
from tests.features.histories import history

AS_OF = "2024-03-03 00:00"
TYPES = ("page_view", "email_open", "demo_request")


@pytest.fixture(scope="module")
def featurizer() -> LeadFeaturizer:
    leads = [{"lead_id": f"f{i}", "created_at": "2023-01-01"} for i in range(2)]
    acts = [(f"f{i}", "2023-02-01", kind) for i in range(2) for kind in TYPES]
    snaps = [(f"f{i}", "2023-06-01") for i in range(2)]
    return LeadFeaturizer(min_activity_count=2, min_category_count=1).fit(
        history(leads, acts, snaps)
    )


def test_every_feature_of_an_activity_type_speaks_for_that_type(
    featurizer: LeadFeaturizer,
) -> None:
    plan = plan_reasons(featurizer)
    kinds_of = {}
    for name, key in zip(featurizer.feature_names_out_, plan.feature_keys, strict=True):
        info = featurizer.feature_info_[name]
        if info.activity_type is not None:
            assert key == f"activity:{info.activity_type}", name
            kinds_of.setdefault(info.activity_type, set()).add(info.kind)
    # Counts, recency, decays and the share of recent activity all read as the type's reason.
    share_kinds = {fi.COUNT, fi.DAYS_SINCE_LAST, fi.DECAYED_COUNT, fi.SHARE}
    assert kinds_of["demo_request"] == share_kinds


def test_all_activity_features_are_handed_on_to_the_types_behind_them(
    featurizer: LeadFeaturizer,
) -> None:
    leads = [
        {"lead_id": "busy", "created_at": "2024-01-01"},
        {"lead_id": "quiet", "created_at": "2024-01-01"},
    ]
    acts = [
        ("busy", "2024-02-20 10:00", "page_view"),
        ("busy", "2024-02-25 10:00", "page_view"),
        ("busy", "2024-02-25 11:00", "page_view"),
        ("busy", "2024-03-02 09:00", "demo_request"),
    ]
    scored = history(leads, acts, [("busy", AS_OF), ("quiet", AS_OF)])
    A = featurizer.transform_matrix(scored)
    columns = featurizer.matrix_columns(A)
    names = featurizer.feature_names_out_
    index = plan_reasons(featurizer).index(featurizer)
    keys = index.keys.tolist()
    # One log-odds unit on every feature over all activities, nothing elsewhere.
    every = [n for n in names if n.startswith("act__any__")]
    contrib = np.zeros((2, len(names)))
    for n in every:
        contrib[:, names.index(n)] = 1.0
    grouped = index.grouped(contrib, columns)

    np.testing.assert_allclose(grouped.sum(axis=1), contrib.sum(axis=1))
    busy, quiet = grouped
    velocity = "feature:act__any__velocity_7d_vs_30d"
    for n in every:
        key = f"feature:{n}"
        # The busy lead's all-activity figures are its activities' (but velocity, a rate
        # change that no type makes alone); the quiet lead keeps them, as absences.
        assert busy[keys.index(key)] == (1.0 if key == velocity else 0.0), n
        assert quiet[keys.index(key)] == 1.0, n
    # All time: 3 of 4 activities are page views, so 3/4 of each count, level and of the
    # active days; the last activity (the demo request) takes "Last active" whole.
    demo = busy[keys.index("activity:demo_request")]
    views = busy[keys.index("activity:page_view")]
    assert demo + views == pytest.approx(len(every) - 1)
    assert demo > 1.0 + 0.25  # its last activity plus at least its part of the all-time count
    assert busy[keys.index("activity:email_open")] == 0.0


def test_active_days_are_handed_on_in_proportion_to_the_window_counts(
    featurizer: LeadFeaturizer,
) -> None:
    leads = [{"lead_id": "a", "created_at": "2024-01-01"}]
    acts = [
        ("a", "2024-01-10 10:00", "email_open"),  # outside the 30-day window
        ("a", "2024-02-25 10:00", "page_view"),
        ("a", "2024-03-02 09:00", "demo_request"),
    ]
    A = featurizer.transform_matrix(history(leads, acts, [("a", AS_OF)]))
    columns = featurizer.matrix_columns(A)
    names = featurizer.feature_names_out_
    index = plan_reasons(featurizer).index(featurizer)
    keys = index.keys.tolist()
    contrib = np.zeros((1, len(names)))
    contrib[0, names.index("act__any__active_days_30d")] = -0.6
    grouped = index.grouped(contrib, columns)[0]
    assert grouped[keys.index("activity:demo_request")] == pytest.approx(-0.3)
    assert grouped[keys.index("activity:page_view")] == pytest.approx(-0.3)
    assert grouped[keys.index("activity:email_open")] == 0.0
    assert grouped[keys.index("feature:act__any__active_days_30d")] == 0.0
