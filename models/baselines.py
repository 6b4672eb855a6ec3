"""Baselines on the same features and holdout: marketing ops' points score, and a logistic model."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from features.info import DECAYED_COUNT, FREE_MAIL, SENIORITY, FeatureInfo
from models.linear import signed_log1p

# Hand-set points, as a marketing ops team sets them in a marketing automation tool.
ACTIVITY_POINTS: dict[str, float] = {
    "demo_request": 40,
    "contact_sales": 40,
    "free_trial_signup": 30,
    "pricing_page_view": 10,
    "form_submission": 15,
    "webinar_registration": 10,
    "case_study_download": 8,
    "email_click": 5,
    "email_open": 1,
    "page_view": 1,
    "blog_view": 1,
    "chat_started": 5,
    "careers_page_view": -10,
    "unsubscribe": -20,
}
SENIORITY_POINTS: dict[str, float] = {
    "c_level": 15,
    "vp": 15,
    "director": 10,
    "head": 10,
    "manager": 5,
    "intern": -15,
    "student": -25,
}
# Rows the logistic baseline fits on (a seeded sample beyond that). sklearn's ColumnTransformer
# stacks its parts into one more float64 copy while it fits, about 1.1 GB at 250,000 rows of
# the demo features: the largest allocation of a 100,000-lead training run (docs/benchmarks.md).
# A baseline's few hundred coefficients are pinned down well before this many rows.
LOGISTIC_FIT_ROWS = 125_000
BUSINESS_EMAIL_POINTS = 10.0
FREE_MAIL_POINTS = -10.0
POINTS_HALF_LIFE_DAYS = 30.0


class PointsLeadScore(ClassifierMixin, BaseEstimator):
    """The classic lead score: decayed activity points plus fit points, mapped to a probability."""

    def __init__(
        self,
        feature_info: Mapping[str, FeatureInfo] | None = None,
        activity_points: Mapping[str, float] | None = None,
        half_life_days: float = POINTS_HALF_LIFE_DAYS,
    ) -> None:
        self.feature_info = feature_info
        self.activity_points = activity_points
        self.half_life_days = half_life_days

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """The lead score in points, before any mapping to a probability."""
        info = self.feature_info or {}
        table = self.activity_points if self.activity_points is not None else ACTIVITY_POINTS
        decayed = [
            (name, i)
            for name, i in info.items()
            if i.kind == DECAYED_COUNT and i.activity_type in table and name in X
        ]
        half_lives = sorted({i.half_life_days for _, i in decayed if i.half_life_days})
        total = np.zeros(len(X))
        if half_lives:
            chosen = min(half_lives, key=lambda h: abs(h - self.half_life_days))
            for name, i in decayed:
                if i.half_life_days == chosen and i.activity_type is not None:
                    total += table[i.activity_type] * X[name].fillna(0).to_numpy(float)
        columns = {i.kind: name for name, i in info.items() if name in X}
        if SENIORITY in columns:
            seniority = X[columns[SENIORITY]].astype(object)
            total += seniority.map(SENIORITY_POINTS).fillna(0).to_numpy(float)
        if FREE_MAIL in columns:
            free = X[columns[FREE_MAIL]].to_numpy(float)
            total += np.where(
                free >= 0.5, FREE_MAIL_POINTS, np.where(free < 0.5, BUSINESS_EMAIL_POINTS, 0.0)
            )
        return total

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> PointsLeadScore:
        """Learn the points' mapping to a probability on the `rows` of X (positions; None:
        all); y and `sample_weight` per fitting row."""
        # The points are fixed by hand; only their mapping to a probability is learned.
        points = self.points(X)
        if rows is not None:
            points = points[rows]
        self.mapping_ = LogisticRegression().fit(
            signed_log1p(points)[:, None], y, sample_weight=sample_weight
        )
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "mapping_")
        return np.asarray(self.mapping_.predict_proba(signed_log1p(self.points(X))[:, None]))


def logistic_baseline(
    categorical: list[str], numeric: list[str], C: float = 0.1, max_iter: int = 500
) -> Pipeline:
    """Logistic regression on the same features: one-hot categoricals, log-scaled numbers."""
    numeric_steps = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(signed_log1p),
        StandardScaler(),
    )
    categorical_steps = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="__missing__", keep_empty_features=True),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
    )
    columns = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(C=C, max_iter=max_iter))])


def to_object_categoricals(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categoricals as plain objects with NaN for missing: what sklearn's imputers expect.

    A shallow copy: the numbers are shared with X (copy-on-write keeps X unchanged)."""
    out = X.copy(deep=False)
    for column in categorical:
        out[column] = out[column].astype(object).where(out[column].notna(), np.nan)
    return out
