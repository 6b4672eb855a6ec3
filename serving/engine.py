"""Online scoring: validated leads in, the scorer's own numbers out, without per-call waste.

`ScoringEngine` runs the same fitted featurizer, trees, calibrator, reference distributions,
tier policy and reason texts as `LeadScorer.score` (so scores equal batch scoring and the
MLflow model), but is built for many small calls:
- the three input frames are built column-wise with fixed dtypes, not inferred row by row;
- LightGBM gets a float matrix (categorical codes, exactly what it derives from the pandas
  categoricals it was trained on) instead of a DataFrame, which costs ~10 ms per call to
  convert, and runs on one thread: thread start-up dominates a prediction for a few rows;
- leads of many requests can be scored in one call (they get private internal ids).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from features.build import EXTRA_TIMESTAMP, LeadHistory
from features.contract import LEAD_OPTIONAL
from models.scorer import LeadScorer, ReferenceScores
from models.tiers import assign_tier
from serving.schemas import Lead

log = logging.getLogger(__name__)

_TEXT_COLUMNS = tuple(c for c in LEAD_OPTIONAL if c != "company_size")


@dataclass(frozen=True)
class EngineScores:
    """Scores of a batch of leads, in input order; fit/engagement NaN without explain."""

    probability: np.ndarray
    percentile: np.ndarray
    tier: np.ndarray
    fit_score: np.ndarray
    engagement_score: np.ndarray
    reasons_positive: list[list[str]]
    reasons_negative: list[list[str]]


def _object_series(values: list[Any], index: pd.RangeIndex) -> pd.Series:
    # An explicit object dtype keeps strings as they are: inferring pandas' Arrow-backed string
    # dtype costs more than the scoring itself for a handful of rows.
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array, index=index, dtype=object, copy=False)


def _datetimes(values: Sequence[datetime]) -> np.ndarray:
    """Tz-naive UTC datetimes (as validated) to datetime64[ns]."""
    return np.array(values, dtype="datetime64[us]").astype("datetime64[ns]")


def _timestamp_or_nat(value: Any) -> Any:
    """One extra timestamp value as the featurizer would read it (tz-naive UTC, else NaT)."""
    if value is None or isinstance(value, bool):
        return pd.NaT
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


class ScoringEngine:
    """Scores validated `Lead`s, each as of its own instant, with one featurizer pass."""

    def __init__(self, scorer: LeadScorer) -> None:
        self.scorer = scorer
        featurizer = scorer.featurizer
        model = scorer.model
        self.booster = model.booster_
        self.num_iteration = int(model.best_iteration_)
        self.calibrator = model.calibrator_
        names = [str(n) for n in model.feature_names_in_]
        if names != list(featurizer.feature_names_out_):
            raise ValueError("the model was not trained on this featurizer's features")
        categorical = set(featurizer.categorical_features_)
        self.categorical_positions = [i for i, n in enumerate(names) if n in categorical]
        self.categorical_names = [names[i] for i in self.categorical_positions]
        n_cat = len(self.categorical_positions)
        # Categoricals come first, so the numeric features are one slice of columns.
        self.numeric_slice = self.categorical_positions == list(range(n_cat))
        self.n_features = len(names)
        trained = getattr(self.booster, "pandas_categorical", None) or []
        expected = [list(featurizer.categories_[n]) for n in self.categorical_names]
        # Codes are only what LightGBM would derive if the levels are those it was trained on.
        self.use_matrix = [list(levels) for levels in trained] == expected
        if not self.use_matrix:
            log.warning("category levels differ from the trees'; scoring through pandas")
        self.timestamp_extras = {
            column for column, kind in featurizer.extra_columns_.items() if kind == EXTRA_TIMESTAMP
        }

    @property
    def feature_names(self) -> list[str]:
        return list(self.scorer.featurizer.feature_names_out_)

    def history(self, leads: Sequence[Lead], as_of: Sequence[datetime]) -> LeadHistory:
        """The featurizer's frames; lead ids are positions, so batches of requests may mix."""
        n = len(leads)
        index = pd.RangeIndex(n)
        keys = [str(i) for i in range(n)]
        columns: dict[str, Any] = {
            "lead_id": _object_series(keys, index),
            "created_at": _datetimes([lead.created_at for lead in leads]),
        }
        for column in _TEXT_COLUMNS:
            columns[column] = _object_series([getattr(lead, column) for lead in leads], index)
        columns["company_size"] = np.array(
            [np.nan if lead.company_size is None else lead.company_size for lead in leads],
            dtype=np.float64,
        )
        extras: dict[str, list[Any]] = {}
        for i, lead in enumerate(leads):
            for key, value in (lead.__pydantic_extra__ or {}).items():
                extras.setdefault(key, [None] * n)[i] = value
        for key, values in extras.items():
            if key in columns:
                continue
            if key in self.timestamp_extras:
                columns[key] = pd.Series(
                    [_timestamp_or_nat(v) for v in values], index=index, dtype="datetime64[ns]"
                )
            else:
                columns[key] = _object_series(values, index)
        leads_frame = pd.DataFrame(columns, index=index, copy=False)

        owners: list[str] = []
        types: list[str] = []
        times: list[datetime] = []
        for key, lead in zip(keys, leads, strict=True):
            for activity in lead.activities:
                owners.append(key)
                types.append(activity.activity_type.strip())
                times.append(activity.occurred_at)
        act_index = pd.RangeIndex(len(owners))
        activities = pd.DataFrame(
            {
                "lead_id": _object_series(owners, act_index),
                "occurred_at": _datetimes(times),
                "activity_type": _object_series(types, act_index),
            },
            index=act_index,
            copy=False,
        )
        snapshots = pd.DataFrame(
            {"lead_id": columns["lead_id"], "as_of": _datetimes(as_of)}, index=index, copy=False
        )
        return LeadHistory(leads=leads_frame, activities=activities, snapshots=snapshots)

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Features as LightGBM's float matrix: category codes, missing as NaN."""
        out = np.empty((len(X), self.n_features), dtype=np.float64)
        for position, name in zip(self.categorical_positions, self.categorical_names, strict=True):
            codes = np.asarray(X[name].array.codes)
            out[:, position] = np.where(codes >= 0, codes, np.nan)
        if self.numeric_slice:
            out[:, len(self.categorical_positions) :] = X.iloc[
                :, len(self.categorical_positions) :
            ].to_numpy(dtype=np.float64)
        else:
            for j, name in enumerate(X.columns):
                if j not in self.categorical_positions:
                    out[:, j] = X[name].to_numpy(dtype=np.float64)
        return out

    def score(
        self, leads: Sequence[Lead], as_of: Sequence[datetime], explain: bool
    ) -> EngineScores:
        scorer = self.scorer
        X = scorer.featurizer.transform(self.history(leads, as_of))
        n = len(X)
        if self.use_matrix:
            A = self.matrix(X)
            raw = self.booster.predict(A, num_iteration=self.num_iteration, num_threads=1)
            probability = self.calibrator.predict(np.asarray(raw))
        else:
            A = None
            probability = scorer.model.predict_proba(X)[:, 1]
        reference = scorer.reference
        fit = np.full(n, np.nan)
        engagement = np.full(n, np.nan)
        positive: list[list[str]] = [[] for _ in range(n)]
        negative: list[list[str]] = [[] for _ in range(n)]
        if explain and n:
            if A is not None:
                contrib = np.asarray(
                    self.booster.predict(
                        A, num_iteration=self.num_iteration, pred_contrib=True, num_threads=1
                    )
                )[:, :-1]
            else:
                contrib = scorer.model.contributions(X).to_numpy()[:, :-1]
            fit_raw, engagement_raw = scorer.group_contributions(contrib)
            fit = ReferenceScores.percentile(reference.fit, fit_raw)
            engagement = ReferenceScores.percentile(reference.engagement, engagement_raw)
            positive, negative = scorer.reasons(X, contrib)
        return EngineScores(
            probability=np.asarray(probability, dtype=np.float64),
            percentile=ReferenceScores.percentile(reference.probability, probability),
            tier=assign_tier(probability, scorer.policy),
            fit_score=fit,
            engagement_score=engagement,
            reasons_positive=positive,
            reasons_negative=negative,
        )
