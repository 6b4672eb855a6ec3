"""A challenger that ranks leads backwards: worse than any champion by every metric."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from training.pipeline import LIGHTGBM, TrainingResult


class _Reversed:
    """Wraps a calibrator so the challenger ranks leads backwards."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return 1 - self.inner.predict(raw)  # type: ignore[attr-defined]


def replace_model_with_reversed(trained: TrainingResult) -> TrainingResult:
    scorer = copy.deepcopy(trained.scorer)
    scorer.model.calibrator_ = _Reversed(scorer.model.calibrator_)
    holdout = trained.holdout.copy()
    holdout[LIGHTGBM] = 1 - holdout[LIGHTGBM]
    return replace(trained, scorer=scorer, holdout=holdout)
