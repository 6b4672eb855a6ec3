"""Drift: PSI per feature and for the score, flagged above a threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.world import DemoWorld
from features.history import LeadHistory
from ops.drift import (
    DEFAULT_PSI_FLAG,
    SCORE,
    drift_metrics,
    feature_drift,
    metric_name,
    population_stability,
    psi_categorical,
    psi_numeric,
    training_population,
)
from training.pipeline import TrainingResult

from .marketing_ops_support import run_params


def test_psi_of_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.random(200_000)
    # Two reference-quantile bins (at 0.5): 50/50 becomes 90/10.
    current = np.where(rng.random(200_000) < 0.9, 0.25, 0.75)
    expected = 0.4 * np.log(0.9 / 0.5) + 0.4 * np.log(0.5 / 0.1)
    assert psi_numeric(reference, current, bins=2) == pytest.approx(expected, rel=0.02)
    assert psi_numeric(reference, rng.random(200_000)) < 0.001


def test_missing_values_and_unseen_categories_count_as_drift() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=5_000)
    current = reference.copy()
    current[:1_500] = np.nan
    assert psi_numeric(reference, current) > DEFAULT_PSI_FLAG
    ref = pd.Series(rng.choice(["a", "b", "c"], 5_000))
    assert psi_categorical(ref, ref.sample(frac=1.0, random_state=2)) == pytest.approx(0, abs=1e-9)
    shifted = ref.where(rng.random(5_000) > 0.4, "brand new")
    assert psi_categorical(ref, shifted) > DEFAULT_PSI_FLAG
    assert psi_categorical(ref, ref.where(rng.random(5_000) > 0.4)) > DEFAULT_PSI_FLAG


def test_population_stability_flags_and_orders_with_the_score_first() -> None:
    rng = np.random.default_rng(2)
    reference = pd.DataFrame(
        {
            "steady": rng.normal(size=4_000),
            "moved": rng.normal(size=4_000),
            "channel": pd.Categorical(rng.choice(["x", "y"], 4_000)),
        }
    )
    current = pd.DataFrame(
        {
            "steady": rng.normal(size=3_000),
            "moved": rng.normal(1.0, 1.0, 3_000),
            "channel": pd.Categorical(rng.choice(["x", "y"], 3_000, p=[0.9, 0.1])),
        }
    )
    report = population_stability(
        reference,
        current,
        categorical=["channel"],
        reference_score=rng.beta(1, 9, 4_000),
        current_score=rng.beta(1, 9, 3_000),
    )
    assert report.table["quantity"].tolist()[0] == SCORE
    assert report.table["psi"].iloc[1:].is_monotonic_decreasing
    assert set(report.flagged) == {"moved", "channel"}
    assert report.score_psi < 0.05
    assert (report.n_reference, report.n_current) == (4_000, 3_000)
    metrics = drift_metrics(report)
    assert metrics["drift_flagged"] == 2
    assert metrics[metric_name("moved")] > DEFAULT_PSI_FLAG
    assert metric_name("act__demo:request (7d)") == "drift_psi_act__demo_request _7d_"


def test_feature_drift_against_the_training_cohort(
    trained: TrainingResult, small_world: DemoWorld
) -> None:
    export, scorer = small_world.export, trained.scorer
    params = run_params(trained)
    reference = training_population(export, params, sample_size=3_000)
    # All reference snapshots precede the validation cohort and the last training snapshot.
    created = reference["lead_id"].map(export.leads.set_index("lead_id")["created_at"])
    assert (created < pd.Timestamp(params["boundary_validation_start"])).all()
    history = LeadHistory(export.leads, export.activities, reference)
    probability = scorer.score(history, explain=False)["probability"].to_numpy()

    def logged(snapshots: pd.DataFrame, p: np.ndarray) -> pd.DataFrame:
        return snapshots.assign(probability=p, tier="nurture")

    same = feature_drift(scorer, export, params, logged(reference, probability), sample_size=3_000)
    assert len(same.table) == len(scorer.featurizer.feature_names_out_) + 1
    assert same.table["psi"].max() < 0.01 and not same.flagged

    # The same leads scored 60 days later: their age and activity recency have moved.
    later = reference.assign(as_of=reference["as_of"] + pd.Timedelta(days=60))
    later_p = scorer.score(LeadHistory(export.leads, export.activities, later), explain=False)[
        "probability"
    ].to_numpy()
    moved = feature_drift(scorer, export, params, logged(later, later_p), sample_size=3_000)
    assert "lead__age_days" in moved.flagged
    assert moved.table.set_index("quantity").loc["lead__source", "psi"] < 0.01
