"""Inputs far outside what the model saw: bounded scores, exact ages, warned odd dates.

Findings 2 and 8 of issue 11: a company of 1e308 employees scored p=0.986 (the linear part
extrapolated), a custom number of 1e30 was quoted in a reason, and a 1905 created_at scored
as of 2199 came out as "created today" (int64 nanoseconds overflow).
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.history import LeadHistory
from models.scorer import LeadScorer
from serving.engine import ScoringEngine
from serving.model_source import load_model_dir
from serving.schemas import EARLIEST, LATEST, ScoreRequest
from tests.serving.conftest import Server
from tests.serving.test_bad_requests import AS_OF, body, good_lead, post

SIZE_FEATURE = "lead__company_size_log1p"
FORM_SCORE = "lead_form_score"


@pytest.fixture(scope="module")
def scorer(model_dir: Path) -> LeadScorer:
    return load_model_dir(model_dir).scorer


def _score(scorer: LeadScorer, **fields: Any) -> pd.Series:
    """Scores of one lead with `fields`, as of AS_OF, with reasons."""
    as_of = pd.Timestamp(AS_OF).tz_localize(None)
    leads = pd.DataFrame(
        [
            {
                "lead_id": "x",
                "created_at": as_of - pd.Timedelta(days=40),
                "source": "webinar",
                "job_title": "VP Sales",
                "email_domain": "acme.io",
                **fields,
            }
        ]
    )
    activities = pd.DataFrame(
        {
            "lead_id": ["x", "x"],
            "occurred_at": [as_of - pd.Timedelta(days=9), as_of - pd.Timedelta(days=2)],
            "activity_type": ["page_view", "demo_request"],
        }
    )
    return scorer.score(LeadHistory.at(leads, activities, as_of)).iloc[0]


def _training_max(scorer: LeadScorer, feature: str) -> float:
    names = list(scorer.model.feature_names_in_)
    return float(scorer.model.feature_high_[names.index(feature)])


def test_huge_company_size_scores_as_the_training_maximum(scorer: LeadScorer) -> None:
    at_max = _score(scorer, company_size=math.expm1(_training_max(scorer, SIZE_FEATURE)))
    huge = _score(scorer, company_size=1e308)
    assert huge["probability"] == pytest.approx(at_max["probability"], abs=1e-12)
    assert _score(scorer, company_size=1e12)["probability"] == huge["probability"]
    assert huge["probability"] < 0.9


def test_huge_custom_number_scores_and_reads_as_the_training_maximum(scorer: LeadScorer) -> None:
    at_max = _score(scorer, **{FORM_SCORE: _training_max(scorer, f"extra__{FORM_SCORE}")})
    huge = _score(scorer, **{FORM_SCORE: 1e308})
    assert huge["probability"] == pytest.approx(at_max["probability"], abs=1e-12)
    assert huge["probability"] < 0.99
    reasons = " ".join(huge["reasons_positive"] + huge["reasons_negative"])
    assert "e+" not in reasons and "308" not in reasons


def test_huge_custom_number_over_http_is_bounded(server: Server) -> None:
    probabilities = []
    for value in (100, 1e30, 1e308):
        lead = good_lead("form")
        lead[FORM_SCORE] = value
        response = post(server, body(lead))
        assert response.status_code == 200, response.text
        score = response.json()["scores"][0]
        assert "e+" not in " ".join(score["reasons"]["positive"] + score["reasons"]["negative"])
        probabilities.append(score["probability"])
    assert probabilities[1] == probabilities[2] == pytest.approx(probabilities[0], abs=0.05)


def test_lead_age_is_exact_at_the_ends_of_the_accepted_window(model_dir: Path) -> None:
    engine = ScoringEngine(load_model_dir(model_dir).scorer)
    latest = LATEST - timedelta(seconds=1)
    request = ScoreRequest.model_validate(
        {
            "leads": [
                {
                    "lead_id": "old",
                    "created_at": f"{EARLIEST:%Y-%m-%dT%H:%M:%S}Z",
                    "activities": [
                        {
                            "activity_type": "page_view",
                            "occurred_at": f"{EARLIEST:%Y-%m-%dT%H:%M:%S}Z",
                        }
                    ],
                }
            ],
            "as_of": f"{latest:%Y-%m-%dT%H:%M:%S}Z",
        },
        strict=False,
    )
    as_of = [request.as_of]
    assert as_of[0] == latest
    featurizer = engine.scorer.featurizer
    A = featurizer.transform_matrix_rows(engine.rows(request.leads, as_of))
    columns = featurizer.matrix_columns(A)
    days = (latest - EARLIEST) / timedelta(days=1)
    assert columns["lead__age_days"][0] == pytest.approx(days)
    assert columns["act__any__days_since_last"][0] == pytest.approx(days)
    assert columns["act__any__count_all"][0] == 1


def test_dates_before_the_window_are_refused(server: Server) -> None:
    lead = good_lead("early")
    lead["created_at"] = f"{EARLIEST - timedelta(seconds=1):%Y-%m-%dT%H:%M:%S}Z"
    response = post(server, body(lead, as_of="2199-12-31T00:00:00Z"))
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "created_at"


def test_activity_long_before_created_at_is_warned(server: Server) -> None:
    lead = good_lead("typo")
    lead["activities"].append({"activity_type": "page_view", "occurred_at": "1976-03-01T10:00:00Z"})
    response = post(server, body(lead))
    assert response.status_code == 200, response.text
    warnings = response.json()["warnings"]
    assert [(w["lead_index"], w["activity_index"]) for w in warnings] == [(0, 2)]
    assert "before created_at" in warnings[0]["message"]


def test_control_characters_never_reach_the_prediction_log(server: Server) -> None:
    lead = good_lead("ok\x00")
    assert post(server, body(lead)).status_code == 422
    assert np.isfinite(post(server, body(good_lead("ok"))).json()["scores"][0]["probability"])
