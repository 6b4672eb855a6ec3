"""Baselines: the points score adds hand-set points for behaviour and fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import LeadFeaturizer
from features.history import LeadHistory
from models.baselines import PointsLeadScore
from tests.conftest import make_export

AS_OF = pd.Timestamp("2026-03-01")


def _features() -> tuple[LeadFeaturizer, pd.DataFrame]:
    leads = [
        {
            "lead_id": "vp",
            "created_at": "2026-01-01",
            "job_title": "VP of Marketing",
            "email_domain": "acme.com",
        },
        {
            "lead_id": "student",
            "created_at": "2026-01-01",
            "job_title": "Student",
            "email_domain": "gmail.com",
        },
        {
            "lead_id": "demo",
            "created_at": "2026-01-01",
            "job_title": "Student",
            "email_domain": "gmail.com",
        },
    ]
    activities = [
        {"lead_id": "demo", "occurred_at": "2026-02-27", "activity_type": "demo_request"},
        {"lead_id": "vp", "occurred_at": "2025-12-31", "activity_type": "page_view"},
    ]
    export = make_export(leads, activities)
    history = LeadHistory.at(export.leads, export.activities, AS_OF)
    featurizer = LeadFeaturizer(min_activity_count=1, min_category_count=1).fit(history)
    return featurizer, featurizer.transform(history)


def test_points_add_fit_and_decayed_activity_points() -> None:
    featurizer, X = _features()
    points = PointsLeadScore(feature_info=featurizer.feature_info_).points(X)
    vp, student, demo = points
    # the featurizer's half-life nearest to 30 days is 14 days
    # VP (+15) with a business email (+10) against a student (-25) with free mail (-10), plus
    # one page view (1 point) 60 days ago
    assert vp - student == pytest.approx(60 + 0.5 ** (60 / 14))
    # a demo request two days ago: 40 points decayed
    assert demo - student == pytest.approx(40 * 0.5 ** (2 / 14))


def test_points_map_to_probabilities_that_rank_like_the_points() -> None:
    featurizer, X = _features()
    model = PointsLeadScore(feature_info=featurizer.feature_info_).fit(X, np.array([1, 0, 1]))
    p = model.predict_proba(X)[:, 1]
    assert (p > 0).all() and (p < 1).all()
    assert np.argsort(p).tolist() == np.argsort(model.points(X)).tolist()
