"""The rows a training run builds features for, sampled when there are too many.

A million-lead export gives about seven million snapshots; the trees learn from far fewer
without losing much the holdout can measure (issue 12: a 1M-lead world trains in 30 minutes on
2 cores). Two budgets, on by default, which every world of the quality benchmarks (<= 200,000
leads: ~1.35 M rows, ~0.36 M of them validation and holdout) stays below, so there nothing is
sampled and every weight is 1 (the run is the same as without this module):

- `max_evaluation_rows`: when the validation and holdout periodic snapshots exceed it, a seeded
  share of their *leads* is kept, whole and at random (by a hash of lead_id, not by outcome).
  Early stopping, calibration and every evaluation then still see leads in their true
  proportions (so they read these rows unweighted), only fewer of them; in the refit, where
  holdout rows are fitting rows, each weighs 1 / share.
- `max_fit_rows`: when the rows of the largest fit (the refit on every cohort) still exceed it,
  every positive is kept and a seeded share of the negative train and activity snapshots, each
  kept negative weighted 1 / share, so weighted sums (the trees' gradients, the linear model's
  loss, the baselines' fits) estimate the full data's.

At the 1M-lead demo world that is 23 % of the evaluation leads and 18 % of the sampleable
negatives, 1.5 M rows in all (docs/benchmarks.md: its time and quality evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.labels import TrainingExamples, lead_phases

# Budgets of `TrainConfig` (defaults): the largest fit's rows, and the validation and holdout
# periodic snapshots. A 200,000-lead demo world has ~1.35 M and ~0.36 M: below both. At a
# million leads the trees are most of a run's time; these keep it under 30 minutes on 2 cores
# (docs/benchmarks.md), with more evaluation rows than a 200k world has in full.
MAX_FIT_ROWS = 1_500_000
MAX_EVALUATION_ROWS = 400_000
# Never fewer than this share of sampled negatives, whatever the budget says.
MIN_NEGATIVE_SHARE = 0.02
ROW_COLUMNS = ("lead_id", "as_of", "created_at", "age_days", "label", "cohort")


@dataclass(frozen=True)
class TrainingRows:
    """Rows to featurize: the periodic snapshots, then the activity snapshots, each kept.

    `table` has lead_id, as_of, created_at, age_days, label, cohort, plus `periodic` (a
    periodic snapshot, as opposed to an activity snapshot), `weight` (> 0 for every row here:
    what a fit weighs it by) and `unsampled` (in its true proportions, not sampled by outcome:
    what calibrators and evaluations may read unweighted).
    """

    table: pd.DataFrame
    negative_share: float
    evaluation_share: float = 1.0

    @property
    def sampled(self) -> bool:
        return self.negative_share < 1.0 or self.evaluation_share < 1.0

    def weights(self, mask: np.ndarray) -> np.ndarray | None:
        """Weights of the rows in `mask`, or None when nothing was sampled (all weights 1)."""
        if not self.sampled:
            return None
        return np.asarray(self.table["weight"].to_numpy()[mask], dtype=np.float64)


def evaluation_share(examples: TrainingExamples, max_evaluation_rows: int | None) -> float:
    """The share of validation and holdout leads kept: all (1.0) when their periodic snapshots
    fit `max_evaluation_rows` (or it is None), else about as many as fit."""
    if max_evaluation_rows is None:
        return 1.0
    if max_evaluation_rows < 1:
        raise ValueError(f"max_evaluation_rows must be positive, got {max_evaluation_rows}")
    rows = int((examples.snapshots["cohort"] != "train").sum())
    return 1.0 if rows <= max_evaluation_rows else max_evaluation_rows / rows


def negative_share(
    examples: TrainingExamples,
    max_fit_rows: int | None,
    share: float | None = None,
    kept_evaluation: float = 1.0,
) -> float:
    """The share of sampleable negatives kept: `share` when given, else the largest that fits
    the refit on every row into `max_fit_rows` (1.0: no sampling), with `kept_evaluation` of
    the validation and holdout snapshots (`evaluation_share`)."""
    if share is not None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"negative_share must be in (0, 1], got {share}")
        return float(share)
    if max_fit_rows is None:
        return 1.0
    snapshots, extra = examples.snapshots, examples.activity_snapshots
    fixed = round(int((snapshots["cohort"] != "train").sum()) * kept_evaluation)
    sampleable = np.concatenate(
        [
            snapshots.loc[snapshots["cohort"] == "train", "label"].to_numpy(),
            extra["label"].to_numpy(),
        ]
    )
    if fixed + len(sampleable) <= max_fit_rows:
        return 1.0
    positives = int(sampleable.sum())
    negatives = len(sampleable) - positives
    room = max_fit_rows - fixed - positives
    return float(np.clip(room / max(negatives, 1), MIN_NEGATIVE_SHARE, 1.0))


def training_rows(
    examples: TrainingExamples, share: float, seed: int, kept_evaluation: float = 1.0
) -> TrainingRows:
    """The periodic and activity snapshots of `examples`, negatives of train periodic and of
    activity snapshots kept with probability `share` (seeded) and weighted 1 / share; of the
    validation and holdout periodic snapshots, those of a `kept_evaluation` share of their
    leads (by a seeded hash of lead_id), weighted 1 / kept_evaluation."""
    snapshots, extra = examples.snapshots, examples.activity_snapshots
    parts = []
    rng = np.random.default_rng([seed, 12])
    for frame, periodic in ((snapshots, True), (extra, False)):
        part = frame.loc[:, list(ROW_COLUMNS)]
        weight = np.ones(len(part))
        sampleable = np.ones(len(part), dtype=bool)
        if periodic:
            sampleable = (part["cohort"] == "train").to_numpy()
            if kept_evaluation < 1.0:
                kept = sampleable | leads_kept(part["lead_id"], kept_evaluation, seed)
                weight = np.where(sampleable, 1.0, 1.0 / kept_evaluation)[kept]
                part, sampleable = part[kept], sampleable[kept]
        if share < 1.0:
            negative = sampleable & (part["label"].to_numpy() == 0)
            drawn = rng.random(len(part))
            keep = ~negative | (drawn < share)
            weight = np.where(negative, 1.0 / share, weight)[keep]
            part, sampleable = part[keep], sampleable[keep]
        part = part.assign(periodic=periodic, weight=weight, unsampled=~sampleable | (share == 1))
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return TrainingRows(table, share, kept_evaluation)


def leads_kept(lead_ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """Per row, whether its lead is among a `share` of the leads drawn by a seeded hash of
    lead_id: whole leads, whatever their outcome, the same in every run (and the same leads
    for the evaluation cohorts and the level window)."""
    uniques, inverse = np.unique(lead_ids.to_numpy(), return_inverse=True)
    return np.asarray(lead_phases(pd.Series(uniques), seed + 7) < share)[inverse]


def weighted_resample(values: np.ndarray, weights: np.ndarray | None, seed: int) -> np.ndarray:
    """`values` as they would be without sampling: drawn with probability by weight, as many as
    the weights add up to (the values themselves when nothing was sampled)."""
    if weights is None:
        return values
    rng = np.random.default_rng([seed, 13])
    size = round(float(weights.sum()))
    return values[rng.choice(len(values), size=size, p=weights / weights.sum())]
