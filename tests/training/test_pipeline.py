"""The training pipeline: no leakage, calibrated, better than the baselines, full outputs."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from demo.world import DemoWorld
from features.build import LeadFeaturizer
from features.history import LeadHistory
from models.tiers import TIERS
from tests.conftest import make_export
from training.labels import SnapshotScheme, build_training_examples
from training.pipeline import LIGHTGBM, LOGISTIC, POINTS, SERVED, TrainingResult


def test_a_feature_that_would_leak_the_label_cannot(small_world: DemoWorld) -> None:
    """A 'contract_signed' activity logged when a deal is won never reaches a snapshot row."""
    export = small_world.export
    won = export.opportunities[export.opportunities["status"] == "won"]
    leak = pd.DataFrame(
        {
            "lead_id": won["lead_id"].to_numpy(),
            "occurred_at": won["closed_at"].to_numpy(),
            "activity_type": "contract_signed",
            "detail": None,
        }
    )
    leaky = type(export)(
        leads=export.leads,
        activities=pd.concat([export.activities, leak], ignore_index=True),
        opportunities=export.opportunities,
    )
    examples = build_training_examples(leaky, 90, scheme=SnapshotScheme(every_days=7))
    snapshots = examples.snapshots
    assert snapshots["label"].sum() > 50
    snaps = snapshots[["lead_id", "as_of"]]
    clean_history = LeadHistory(export.leads, export.activities, snaps)
    leaky_history = LeadHistory(leaky.leads, leaky.activities, snaps)
    featurizer = LeadFeaturizer(min_activity_count=5).fit(clean_history)
    pd.testing.assert_frame_equal(
        featurizer.transform(leaky_history), featurizer.transform(clean_history)
    )
    # the vocabulary itself is learned point-in-time: the post-outcome type never enters it
    refit = LeadFeaturizer(min_activity_count=5).fit(leaky_history)
    assert "contract_signed" not in refit.activity_types_
    # while the same type logged before as_of would be seen
    early = leak.assign(occurred_at=leak["occurred_at"] - pd.Timedelta(days=400))
    seen = LeadHistory(leaky.leads, pd.concat([export.activities, early], ignore_index=True), snaps)
    assert "contract_signed" in LeadFeaturizer(min_activity_count=5).fit(seen).activity_types_


def test_holdout_is_later_and_models_are_compared_on_it(trained: TrainingResult) -> None:
    snapshots = trained.examples.snapshots
    holdout = trained.holdout
    # periodic snapshots only: activity snapshots are fitting rows, never evaluated on
    assert len(trained.examples.activity_snapshots) > 0
    assert len(holdout) == (snapshots["cohort"] == "holdout").sum()
    assert set(trained.evaluations) == {LIGHTGBM, POINTS, LOGISTIC}
    for evaluation in trained.evaluations.values():
        assert {"roc_auc", "log_loss", "ece", "lift_top10", "capture_top20"} <= set(
            evaluation.metrics
        )
        assert len(evaluation.deciles) == 10
    light = trained.evaluations[LIGHTGBM].metrics
    points = trained.evaluations[POINTS].metrics
    assert light["roc_auc"].value > 0.75
    assert light["roc_auc"].value > points["roc_auc"].value
    assert light["log_loss"].value < points["log_loss"].value


def test_probabilities_are_calibrated_on_the_holdout(trained: TrainingResult) -> None:
    holdout = trained.holdout
    mean_p = holdout[LIGHTGBM].mean()
    rate = holdout["label"].mean()
    se = np.sqrt(rate * (1 - rate) / len(holdout))
    assert abs(mean_p - rate) < 4 * se + 0.005


def test_default_tier_policy_is_top_5_and_next_15_percent_of_holdout(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    policy = trained.scorer.policy
    p = trained.holdout[SERVED].to_numpy()
    # the served model's own holdout scores: the policy's shares hold for what is served
    export = small_world.export
    holdout = trained.holdout
    history = LeadHistory(export.leads, export.activities, holdout[["lead_id", "as_of"]])
    served = trained.scorer.score(history, explain=False)["probability"].to_numpy()
    assert np.allclose(p, served)
    assert not np.allclose(p, holdout[LIGHTGBM].to_numpy())  # refitted after the evaluation
    assert np.mean(p >= policy.sql_threshold) == pytest.approx(0.05, abs=0.01)
    assert np.mean(p >= policy.mql_threshold) == pytest.approx(0.20, abs=0.02)


def test_scorer_outputs_every_field_with_reasons(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    truth = small_world.truth.head(200)
    export = small_world.export
    history = LeadHistory(
        export.leads,
        export.activities,
        pd.DataFrame({"lead_id": truth["lead_id"], "as_of": export.cutoff}),
    )
    scores = trained.scorer.score(history)
    assert scores["lead_id"].tolist() == truth["lead_id"].tolist()
    assert scores["probability"].between(0, 1).all()
    assert scores["percentile"].between(0, 100).all()
    assert set(scores["tier"]) <= set(TIERS)
    assert scores["fit_score"].between(0, 100).all()
    assert scores["engagement_score"].between(0, 100).all()
    assert scores["reasons_positive"].map(len).max() <= 3
    assert (scores["reasons_positive"].map(len) + scores["reasons_negative"].map(len) > 0).all()
    assert all(isinstance(r, str) and r for rs in scores["reasons_positive"] for r in rs)
    # probabilities rank leads the way the truth does
    merged = scores.merge(truth, on="lead_id")
    assert np.corrcoef(merged["probability"], merged["p_true"])[0, 1] > 0.6
    fast = trained.scorer.score(history, explain=False)
    np.testing.assert_allclose(fast["probability"], scores["probability"])
    assert fast["fit_score"].isna().all()


def test_hand_raisers_hear_about_it(trained: TrainingResult) -> None:
    export = make_export(
        [
            {
                "lead_id": "hot",
                "created_at": "2026-06-01",
                "job_title": "VP Marketing",
                "email_domain": "acme-corp.com",
                "company_size": 2500,
                "source": "organic_search",
            },
        ],
        activities=[
            {
                "lead_id": "hot",
                "occurred_at": "2026-06-27T10:00:00",
                "activity_type": "demo_request",
            },
            {
                "lead_id": "hot",
                "occurred_at": "2026-06-26T10:00:00",
                "activity_type": "pricing_page_view",
            },
        ],
    )
    history = LeadHistory.at(export.leads, export.activities, pd.Timestamp("2026-06-29T10:00:00"))
    scores = trained.scorer.score(history)
    assert scores.loc[0, "tier"] in ("SQL", "MQL")
    assert scores.loc[0, "percentile"] > 85
    # the first reason is the feature group (an activity type or an attribute) with the largest
    # summed SHAP contribution, put into words
    scorer = trained.scorer
    X = scorer.features(history)
    contrib = scorer.model.contributions(X).drop(columns="bias").iloc[0]
    by_reason = contrib.groupby(np.asarray(scorer.plan.feature_keys)).sum()
    top_key = str(by_reason.idxmax())
    # The feature frame's columns, independently of the matrix the scorer reads.
    columns = {str(name): X[name].to_numpy() for name in X.columns}
    assert scores.loc[0, "reasons_positive"][0] == scorer._phrase(columns, 0, top_key)
    assert scores.loc[0, "reasons_negative"][0] == scorer._phrase(
        columns, 0, str(by_reason.idxmin())
    )


def test_remembered_phrases_are_the_phrases_and_stay_out_of_the_artifact(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    export = small_world.export
    leads = small_world.truth["lead_id"].head(300)
    history = LeadHistory(
        export.leads, export.activities, pd.DataFrame({"lead_id": leads, "as_of": export.cutoff})
    )
    scorer = pickle.loads(pickle.dumps(trained.scorer))
    first = scorer.score(history)
    assert scorer._phrases  # remembered while scoring
    # A fresh scorer (nothing remembered) and a second pass (everything remembered) agree.
    again = scorer.score(history)
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored._phrases == {}
    fresh = restored.score(history)
    for column in ("reasons_positive", "reasons_negative"):
        assert first[column].tolist() == again[column].tolist() == fresh[column].tolist()
