"""Negative sampling of training snapshots: what is kept, how it is weighted, and that a model
fitted on the sample stays calibrated."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from demo.world import DemoWorld
from tests.conftest import SMALL_CONFIG
from training.labels import TrainingExamples, build_training_examples
from training.pipeline import LIGHTGBM, SERVED, TrainConfig, TrainingResult, train
from training.sampling import (
    MAX_EVALUATION_ROWS,
    MAX_FIT_ROWS,
    evaluation_share,
    negative_share,
    training_rows,
    weighted_resample,
)


@pytest.fixture(scope="module")
def examples(small_world: DemoWorld) -> TrainingExamples:
    return build_training_examples(small_world.export, SMALL_CONFIG.horizon_days)


def test_without_sampling_every_row_is_kept_with_weight_one(examples: TrainingExamples) -> None:
    rows = training_rows(examples, 1.0, seed=0)
    table = rows.table
    assert not rows.sampled
    assert len(table) == len(examples.snapshots) + len(examples.activity_snapshots)
    assert (table["weight"] == 1).all() and table["unsampled"].all()
    assert rows.weights(np.ones(len(table), dtype=bool)) is None
    # Periodic snapshots first, in their order, then the activity snapshots.
    periodic = table[table["periodic"]]
    assert (periodic["as_of"].to_numpy() == examples.snapshots["as_of"].to_numpy()).all()


def test_sampling_keeps_positives_and_unsampled_cohorts_and_weights_negatives(
    examples: TrainingExamples,
) -> None:
    share = 0.25
    table = training_rows(examples, share, seed=0).table
    snapshots, extra = examples.snapshots, examples.activity_snapshots
    periodic = table[table["periodic"]]
    for cohort in ("validation", "holdout"):
        kept = periodic[periodic["cohort"] == cohort]
        assert len(kept) == int((snapshots["cohort"] == cohort).sum())
        assert (kept["weight"] == 1).all() and kept["unsampled"].all()
    sampleable = table[~table["unsampled"]]
    assert (sampleable["cohort"].isin(["train", "holdout"])).all()
    positives = int((snapshots["cohort"] == "train").mul(snapshots["label"]).sum())
    positives += int(extra["label"].sum())
    assert int(sampleable["label"].sum()) == positives
    assert (sampleable.loc[sampleable["label"] == 1, "weight"] == 1).all()
    assert np.allclose(sampleable.loc[sampleable["label"] == 0, "weight"], 1 / share)
    # Weighted, the kept negatives stand for all of them (binomial spread, 4 SE).
    negatives = int(((snapshots["cohort"] == "train") & (snapshots["label"] == 0)).sum())
    negatives += int((extra["label"] == 0).sum())
    kept_negatives = int((sampleable["label"] == 0).sum())
    spread = 4 * np.sqrt(negatives * share * (1 - share))
    assert abs(kept_negatives - negatives * share) < spread
    assert training_rows(examples, share, seed=0).table.equals(table)  # seeded


def test_share_is_the_budget_s_or_the_one_given(examples: TrainingExamples) -> None:
    total = len(examples.snapshots) + len(examples.activity_snapshots)
    assert negative_share(examples, None) == 1.0
    assert negative_share(examples, total) == 1.0
    share = negative_share(examples, total // 2)
    assert 0.0 < share < 1.0
    table = training_rows(examples, share, seed=0).table
    assert abs(len(table) - total // 2) < 0.02 * total
    assert negative_share(examples, total // 2, share=0.7) == 0.7
    with pytest.raises(ValueError, match="negative_share"):
        negative_share(examples, None, share=0.0)


def test_evaluation_cohorts_keep_a_share_of_whole_leads(examples: TrainingExamples) -> None:
    snapshots = examples.snapshots
    evaluated = snapshots[snapshots["cohort"] != "train"]
    assert evaluation_share(examples, None) == 1.0
    assert evaluation_share(examples, len(evaluated)) == 1.0
    assert evaluation_share(examples, len(evaluated) // 2) == pytest.approx(0.5, abs=0.01)
    rows = training_rows(examples, 1.0, seed=0, kept_evaluation=0.4)
    table = rows.table
    assert rows.sampled and rows.evaluation_share == 0.4
    periodic = table[table["periodic"]]
    # Train rows and activity snapshots as they were, weight 1.
    train = periodic[periodic["cohort"] == "train"]
    assert len(train) == int((snapshots["cohort"] == "train").sum())
    assert (train["weight"] == 1).all()
    assert len(table) - len(periodic) == len(examples.activity_snapshots)
    kept = periodic[periodic["cohort"] != "train"]
    # Whole leads: every snapshot of a kept lead, none of the others.
    kept_leads = set(kept["lead_id"])
    whole = evaluated[evaluated["lead_id"].isin(kept_leads)]
    assert len(kept) == len(whole)
    all_leads = evaluated["lead_id"].nunique()
    spread = 4 * np.sqrt(all_leads * 0.4 * 0.6)
    assert abs(len(kept_leads) - 0.4 * all_leads) < spread
    # Drawn whatever the outcome: the kept rows' win rate is the cohorts' (binomial, 4 SE).
    rate = evaluated["label"].mean()
    assert abs(kept["label"].mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / len(kept) * 3)
    # Calibrators and evaluations may read them unweighted; fits weigh them back.
    assert kept["unsampled"].all() and np.allclose(kept["weight"], 1 / 0.4)
    weights = rows.weights(np.ones(len(table), dtype=bool))
    assert weights is not None and weights.sum() == pytest.approx(
        len(table) - len(kept) + len(kept) / 0.4
    )
    assert training_rows(examples, 1.0, seed=0, kept_evaluation=0.4).table.equals(table)


def test_fewer_evaluation_rows_leave_more_room_for_negatives(examples: TrainingExamples) -> None:
    total = len(examples.snapshots) + len(examples.activity_snapshots)
    budget = total * 2 // 3
    assert negative_share(examples, budget, kept_evaluation=0.5) > negative_share(examples, budget)
    both = training_rows(
        examples, negative_share(examples, budget, kept_evaluation=0.5), 0, kept_evaluation=0.5
    )
    assert abs(len(both.table) - budget) < 0.03 * total


def test_demo_worlds_stay_below_the_default_budgets(examples: TrainingExamples) -> None:
    # The budgets are sized for millions of leads; the run is unsampled below them.
    config = TrainConfig()
    assert (config.max_fit_rows, config.max_evaluation_rows) == (MAX_FIT_ROWS, MAX_EVALUATION_ROWS)
    assert evaluation_share(examples, config.max_evaluation_rows) == 1.0
    assert negative_share(examples, config.max_fit_rows) == 1.0


def test_weighted_resample_restores_the_population() -> None:
    values = np.array([0.0, 1.0])
    weights = np.array([3.0, 1.0])  # one kept negative stands for three
    drawn = weighted_resample(values, weights, seed=0)
    assert len(drawn) == 4
    assert weighted_resample(values, None, seed=0) is values
    many = weighted_resample(np.array([0.0, 1.0]), np.array([3000.0, 1000.0]), seed=1)
    assert abs(many.mean() - 0.25) < 0.03


def test_a_model_fitted_on_sampled_negatives_stays_calibrated(
    small_world: DemoWorld, trained: TrainingResult
) -> None:
    sampled = train(small_world.export, replace(SMALL_CONFIG, negative_share=0.3))
    assert sampled.negative_share == 0.3
    # Early-stopped on validation like the full model (a weighted fit once stopped at 1 tree).
    assert sampled.best_iteration > trained.best_iteration / 2
    holdout, full = sampled.holdout, trained.holdout
    # The same holdout rows, every one of them evaluated.
    assert (holdout["lead_id"].to_numpy() == full["lead_id"].to_numpy()).all()
    rate = holdout["label"].mean()
    se = np.sqrt(rate * (1 - rate) / len(holdout))
    for model in (LIGHTGBM, SERVED):
        assert abs(holdout[model].mean() - rate) < 4 * se + 0.005
        assert abs(holdout[model].mean() - full[model].mean()) < 2 * se + 0.003
    auc = sampled.evaluations[LIGHTGBM].metrics["roc_auc"]
    full_auc = trained.evaluations[LIGHTGBM].metrics["roc_auc"]
    assert full_auc.low is not None
    assert auc.value > full_auc.low - 0.01  # ranks about as well as the full model
    # The reference distribution is weighted back to the periodic snapshots' numbers.
    periodic = len(sampled.examples.snapshots)
    assert abs(len(sampled.scorer.reference.probability) - periodic) < 0.05 * periodic


def test_a_model_fitted_within_both_budgets_stays_calibrated(
    small_world: DemoWorld, trained: TrainingResult
) -> None:
    examples = trained.examples
    evaluated = int((examples.snapshots["cohort"] != "train").sum())
    total = len(examples.snapshots) + len(examples.activity_snapshots)
    budgets = replace(SMALL_CONFIG, max_evaluation_rows=evaluated // 2, max_fit_rows=total // 2)
    sampled = train(small_world.export, budgets)
    assert sampled.evaluation_share == pytest.approx(0.5, abs=0.01)
    assert 0.0 < sampled.negative_share < 1.0
    assert sampled.best_iteration > trained.best_iteration / 2
    holdout, full = sampled.holdout, trained.holdout
    # About half the holdout leads, each with every one of its snapshots.
    leads = set(holdout["lead_id"])
    assert abs(len(leads) - full["lead_id"].nunique() / 2) < 0.1 * full["lead_id"].nunique()
    assert len(holdout) == int(full["lead_id"].isin(leads).sum())
    rate = holdout["label"].mean()
    se = np.sqrt(rate * (1 - rate) / len(holdout))
    for model in (LIGHTGBM, SERVED):
        assert abs(holdout[model].mean() - rate) < 4 * se + 0.005
    full_auc = trained.evaluations[LIGHTGBM].metrics["roc_auc"]
    assert full_auc.low is not None
    assert sampled.evaluations[LIGHTGBM].metrics["roc_auc"].value > full_auc.low - 0.02
