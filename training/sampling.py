"""The rows a training run builds features for, with negatives sampled when there are too many.

A million-lead export gives about seven million snapshots; the trees learn from far fewer
without losing much the holdout can measure. Opt-in (off by default: see the drifting world
in docs/benchmarks.md): when the rows of the largest fit (the refit
on every cohort) exceed `max_fit_rows`, every positive is kept and a seeded share of the
negative train and activity snapshots, each kept negative weighted 1 / share, so weighted sums
(the trees' gradients, the linear model's loss, the baselines' fits) estimate the full data's.
Validation and holdout snapshots are never sampled: early stopping, calibration and every
evaluation see leads in their true proportions, which is what keeps the probabilities
calibrated. Below the budget nothing is sampled and every weight is 1 (the run is the same as
without this module).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.labels import TrainingExamples

# A budget for the largest fit when sampling is asked for (`TrainConfig.max_fit_rows`, off by
# default); a 200,000-lead demo world stays below it.
MAX_FIT_ROWS = 2_000_000
# Never fewer than this share of sampled negatives, whatever the budget says.
MIN_NEGATIVE_SHARE = 0.02
ROW_COLUMNS = ("lead_id", "as_of", "created_at", "age_days", "label", "cohort")


@dataclass(frozen=True)
class TrainingRows:
    """Rows to featurize: the periodic snapshots, then the activity snapshots, each kept.

    `table` has lead_id, as_of, created_at, age_days, label, cohort, plus `periodic` (a
    periodic snapshot, as opposed to an activity snapshot), `weight` (> 0 for every row here)
    and `unsampled` (from a cohort that was not sampled: what calibrators may read).
    """

    table: pd.DataFrame
    negative_share: float

    @property
    def sampled(self) -> bool:
        return self.negative_share < 1.0

    def weights(self, mask: np.ndarray) -> np.ndarray | None:
        """Weights of the rows in `mask`, or None when nothing was sampled (all weights 1)."""
        if not self.sampled:
            return None
        return np.asarray(self.table["weight"].to_numpy()[mask], dtype=np.float64)


def negative_share(
    examples: TrainingExamples, max_fit_rows: int | None, share: float | None = None
) -> float:
    """The share of sampleable negatives kept: `share` when given, else the largest that fits
    the refit on every row into `max_fit_rows` (1.0: no sampling)."""
    if share is not None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"negative_share must be in (0, 1], got {share}")
        return float(share)
    if max_fit_rows is None:
        return 1.0
    snapshots, extra = examples.snapshots, examples.activity_snapshots
    fixed = int((snapshots["cohort"] != "train").sum())
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


def training_rows(examples: TrainingExamples, share: float, seed: int) -> TrainingRows:
    """The periodic and activity snapshots of `examples`, negatives of train periodic and of
    activity snapshots kept with probability `share` (seeded) and weighted 1 / share."""
    snapshots, extra = examples.snapshots, examples.activity_snapshots
    parts = []
    rng = np.random.default_rng([seed, 12])
    for frame, periodic in ((snapshots, True), (extra, False)):
        part = frame.loc[:, list(ROW_COLUMNS)]
        weight = np.ones(len(part))
        sampleable = np.ones(len(part), dtype=bool)
        if periodic:
            sampleable = (part["cohort"] == "train").to_numpy()
        if share < 1.0:
            negative = sampleable & (part["label"].to_numpy() == 0)
            drawn = rng.random(len(part))
            keep = ~negative | (drawn < share)
            weight = np.where(negative, 1.0 / share, 1.0)[keep]
            part, sampleable = part[keep], sampleable[keep]
        part = part.assign(periodic=periodic, weight=weight, unsampled=~sampleable | (share == 1))
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return TrainingRows(table, share)


def weighted_resample(values: np.ndarray, weights: np.ndarray | None, seed: int) -> np.ndarray:
    """`values` as they would be without sampling: drawn with probability by weight, as many as
    the weights add up to (the values themselves when nothing was sampled)."""
    if weights is None:
        return values
    rng = np.random.default_rng([seed, 13])
    size = round(float(weights.sum()))
    return values[rng.choice(len(values), size=size, p=weights / weights.sum())]
