"""Worse challengers: a worse recipe, trained for real, and reversed holdout probabilities.

Against a champion of an earlier cut-off the gate judges the challenger's recipe refitted on
the champion's information (training/gate.py), so a worse challenger there is a worse recipe:
one split of one tree and no linear part. Where the gate reads the evaluated model's holdout
probabilities (no earlier champion), reversing those makes a challenger worse by every metric;
the registered scorer is left as it is (a stored model is data, with no room for a wrapper).
"""

from __future__ import annotations

from dataclasses import replace

from training.pipeline import LIGHTGBM, TrainConfig, TrainingResult

STUMP = {"n_jobs": 1, "num_leaves": 2, "max_rounds": 1, "linear_weight": 0.0}


def worse_recipe(config: TrainConfig) -> TrainConfig:
    return replace(config, model=STUMP)


def replace_model_with_reversed(trained: TrainingResult) -> TrainingResult:
    holdout = trained.holdout.copy()
    holdout[LIGHTGBM] = 1 - holdout[LIGHTGBM]
    return replace(trained, holdout=holdout)
