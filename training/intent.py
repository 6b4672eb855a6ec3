"""The pooled buying-intent features of a training run (`features.intent`): each activity
type's lift is learned from the fitting cohort's labelled rows of the features already built,
then the two features are added to them by the featurizer's own function, so training, batch
scoring and the service compute them alike (and no second pass over the activities is made).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer
from features.partition import FEATURE_DTYPE


def add_intent_features(
    featurizer: LeadFeaturizer,
    X: pd.DataFrame,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: np.ndarray,
) -> pd.DataFrame:
    """X with the intent features appended (in the featurizer's column order), their lifts
    learned from `rows` (positions of the fitting cohort's rows: never validation or holdout
    rows, whose labels judge the model)."""
    featurizer.fit_intent(X, y, sample_weight, rows)
    intent = featurizer.intent_frame(X)
    for name in intent.columns:
        X[name] = intent[name].to_numpy(dtype=FEATURE_DTYPE)
    if list(X.columns) != featurizer.feature_names_out_:
        raise AssertionError("intent features out of the featurizer's column order")
    return X
