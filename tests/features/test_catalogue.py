"""The feature list: extra lead columns by kind, and names made from any activity name."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import info as fi
from features.build import MISSING_LEVEL, LeadFeaturizer
from features.history import LeadHistory
from tests.features.histories import activity_frame, history, lead_frame, snapshot_frame

AS_OF = "2024-03-03 00:00"


def test_extra_columns_become_features() -> None:
    leads = [
        {
            "lead_id": f"l{i}",
            "created_at": "2024-01-01",
            "employees_band": band,
            "lead_form_score": score,
            "budget_text": text,
            "is_partner": partner,
            "last_event_at": pd.Timestamp(event) if event else pd.NaT,
            "renewal_date": event,
        }
        for i, (band, score, text, partner, event) in enumerate(
            [
                ("small", 3, "100", True, "2024-01-15"),
                ("large", None, "2500.5", False, "2024-05-01"),
                ("small", 7, None, True, None),
            ]
        )
    ]
    frame = lead_frame(leads)
    frame["lead_form_score"] = frame["lead_form_score"].astype("Int64")
    frame["budget_text"] = frame["budget_text"].astype(object)
    snaps = snapshot_frame([(f"l{i}", AS_OF) for i in range(3)])
    data = LeadHistory(frame, activity_frame([]), snaps)
    featurizer = LeadFeaturizer(min_category_count=1).fit(data)
    assert featurizer.extra_columns_ == {
        "employees_band": "category",
        "lead_form_score": "numeric",
        "budget_text": "numeric",
        "is_partner": "numeric",
        "last_event_at": "timestamp",
        "renewal_date": "timestamp",
    }
    out = featurizer.transform(data)
    assert "extra__employees_band" in featurizer.categorical_features_
    assert list(out["extra__employees_band"]) == ["small", "large", "small"]
    assert out["extra__lead_form_score"].tolist()[0] == 3.0
    assert np.isnan(out["extra__lead_form_score"][1])
    assert out["extra__budget_text"].tolist()[:2] == [100.0, 2500.5]
    assert out["extra__is_partner"].tolist() == [1.0, 0.0, 1.0]
    days = out["extra__last_event_at_days"]
    assert days[0] == 48.0  # Jan 15 -> Mar 3
    assert np.isnan(days[1]) and np.isnan(days[2])  # after as_of: not known then; missing
    pd.testing.assert_series_equal(out["extra__renewal_date_days"], days, check_names=False)
    info = featurizer.feature_info_["extra__lead_form_score"]
    assert (info.group, info.kind, info.source_column) == ("fit", fi.NUMERIC, "lead_form_score")

    # At scoring time a numeric extra may arrive as text or be absent altogether.
    scoring = frame.drop(columns=["employees_band"]).assign(lead_form_score=["12", "n/a", None])
    out = featurizer.transform(LeadHistory(scoring, activity_frame([]), snaps))
    assert out["extra__lead_form_score"].tolist()[0] == 12.0
    assert out["extra__lead_form_score"].isna().tolist()[1:] == [True, True]
    assert set(out["extra__employees_band"]) == {MISSING_LEVEL}


def test_odd_activity_names_make_valid_distinct_feature_names() -> None:
    leads = [{"lead_id": "a", "created_at": "2024-01-01"}]
    names = ["Form: Submitted [web]", "form submitted web", "any", "other", "Ünïcode"]
    acts = [("a", "2024-02-01", n) for n in names]
    featurizer = LeadFeaturizer(min_activity_count=1).fit(history(leads, acts, [("a", AS_OF)]))
    features = featurizer.feature_names_out_
    assert len(set(features)) == len(features)
    assert all(not set(f) & set('[]{}":,') for f in features)
    row = featurizer.transform(history(leads, acts, [("a", AS_OF)])).iloc[0]
    for name in names:
        (count,) = [
            row[f]
            for f, i in featurizer.feature_info_.items()
            if i.activity_type == name and i.kind == fi.COUNT and i.window_days is None
        ]
        assert count == 1, name
