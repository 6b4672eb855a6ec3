"""A challenger whose evaluated model ranks leads backwards: worse than any champion.

The gate judges a challenger by its evaluated model's holdout probabilities (the registered
model may be a refit), so reversing those makes the challenger worse by every metric; the
registered scorer is left as it is (a stored model is data, with no room for a wrapper).
"""

from __future__ import annotations

from dataclasses import replace

from training.pipeline import LIGHTGBM, TrainingResult


def replace_model_with_reversed(trained: TrainingResult) -> TrainingResult:
    holdout = trained.holdout.copy()
    holdout[LIGHTGBM] = 1 - holdout[LIGHTGBM]
    return replace(trained, holdout=holdout)
