"""A worse recipe: one split of one tree and no linear part, worse than any honest champion.

The gate judges the challenger's recipe refitted on the information the champion had
(training/gate.py), so a worse challenger is a worse recipe, trained for real.
"""

from __future__ import annotations

from dataclasses import replace

from training.pipeline import TrainConfig

STUMP = {"n_jobs": 1, "num_leaves": 2, "max_rounds": 1, "linear_weight": 0.0}


def worse_recipe(config: TrainConfig) -> TrainConfig:
    return replace(config, model=STUMP)
