"""`LeadScorer`: features + calibrated model + tier policy + reasons, the one thing that scores.

Every path ends in `LeadScorer.score_matrix`, the implementation (probability, percentile,
tier, sub-scores and reasons from a feature matrix), so the paths cannot skew:
- batch scoring (`leadscore score`, thresholds, drift) and the MLflow pyfunc call
  `LeadScorer.score` with a `LeadHistory` (the pyfunc first turns JSON records into one with
  `models.records.records_to_history`), which runs `featurizer.transform_matrix` and then
  `score_matrix`;
- the service (`serving.engine.ScoringEngine.score`) reads validated leads into `LeadRows`,
  runs `featurizer.transform_matrix_rows` (an input adapter of `transform_matrix`) and then
  `score_matrix`, skipping the pandas frames a `LeadHistory` needs.
tests/models/test_scoring_paths.py checks that each path goes through `score_matrix` and
tests/serving/test_consistency.py that they give the same scores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer
from features.history import LeadHistory
from features.info import (
    DEPARTMENT,
    FREE_MAIL,
    LEAD_AGE,
    LOG1P,
    SENIORITY,
    VELOCITY,
)
from models.conversion import ConversionModel
from models.reason_index import ReasonIndex
from models.reasons import describe_activity, describe_attribute, describe_engagement
from models.tiers import TierPolicy, assign_tier

log = logging.getLogger(__name__)

FIT = "fit"
ENGAGEMENT = "engagement"
_ATTRIBUTE_NAMES = {
    SENIORITY: "seniority",
    DEPARTMENT: "department",
    FREE_MAIL: "free_mail",
    LEAD_AGE: "lead_age_days",
}
# Phrases are remembered per reason and input values; the memory starts over past this many.
MAX_REMEMBERED_PHRASES = 50_000
# A reason must move the lead's log-odds at least this much against a typical lead's (about 5 %
# of its odds): smaller moves are what nearly every lead shares, not what sets this one apart.
MIN_REASON_LOG_ODDS = 0.05
SCORE_COLUMNS = (
    "lead_id",
    "as_of",
    "probability",
    "percentile",
    "tier",
    "fit_score",
    "engagement_score",
    "reasons_positive",
    "reasons_negative",
)


@dataclass(frozen=True)
class ReferenceScores:
    """Sorted reference distributions that turn raw numbers into 0-100 percentiles."""

    probability: np.ndarray
    fit: np.ndarray
    engagement: np.ndarray
    # Per reason key, a typical lead's contribution (the median over the reference sample):
    # reasons are ranked by how far this lead's contribution is from it.
    typical_reasons: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Share of the reference below each value (ties count half), on a 0-100 scale."""
        below = np.searchsorted(reference, values, side="left")
        at_or_below = np.searchsorted(reference, values, side="right")
        return np.round(100.0 * (below + at_or_below) / (2.0 * max(reference.size, 1)), 1)


@dataclass(frozen=True)
class ReasonPlan:
    """For each feature, the reason it speaks for, and how to phrase each reason."""

    feature_keys: tuple[str, ...]
    groups: tuple[str, ...]
    activity_count_feature: dict[str, str] = field(default_factory=dict)
    activity_last_feature: dict[str, str] = field(default_factory=dict)

    def index(self, featurizer: LeadFeaturizer) -> ReasonIndex:
        return ReasonIndex.of(
            self.feature_keys, self.activity_count_feature, self.activity_last_feature, featurizer
        )


def group_contributions(
    contrib: np.ndarray, groups: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the summed contributions of the fit features and of the engagement features."""
    group = np.asarray(groups)
    return contrib[:, group == FIT].sum(axis=1), contrib[:, group == ENGAGEMENT].sum(axis=1)


def plan_reasons(featurizer: LeadFeaturizer) -> ReasonPlan:
    """Group the featurizer's features into reasons (one per activity type or attribute)."""
    keys: list[str] = []
    groups: list[str] = []
    counts: dict[str, str] = {}
    lasts: dict[str, str] = {}
    for name in featurizer.feature_names_out_:
        info = featurizer.feature_info_[name]
        groups.append(info.group)
        if info.activity_type is not None:
            keys.append(f"activity:{info.activity_type}")
            if info.kind == "count" and info.window_days is None:
                counts[info.activity_type] = name
            elif info.kind == "days_since_last":
                lasts[info.activity_type] = name
        else:
            keys.append(f"feature:{name}")
    return ReasonPlan(tuple(keys), tuple(groups), counts, lasts)


class LeadScorer:
    """Scores open leads: probability, percentile, tier, sub-scores and reasons."""

    def __init__(
        self,
        featurizer: LeadFeaturizer,
        model: ConversionModel,
        policy: TierPolicy,
        reference: ReferenceScores,
        top_reasons: int = 3,
    ) -> None:
        self.featurizer = featurizer
        self.model = model
        self.policy = policy
        self.reference = reference
        self.top_reasons = top_reasons
        self.plan = plan_reasons(featurizer)
        self._phrases: dict[tuple[Any, ...], str] = {}
        model.bind_categories(featurizer.category_dtypes_)

    def __getstate__(self) -> dict[str, Any]:
        # Remembered phrases and the reason plan are derived: rebuilt after loading, never
        # stored in the model artifact.
        state = dict(self.__dict__)
        state.pop("_reason_plan", None)
        state["_phrases"] = {}
        return state

    def with_policy(self, policy: TierPolicy) -> LeadScorer:
        return LeadScorer(self.featurizer, self.model, policy, self.reference, self.top_reasons)

    def features(self, history: LeadHistory) -> pd.DataFrame:
        return self.featurizer.transform(history)

    def group_contributions(self, contrib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the log-odds contributed by fit features and by engagement features."""
        return group_contributions(contrib, self.plan.groups)

    def score(
        self, history: LeadHistory, explain: bool = True, batch_size: int = 20_000
    ) -> pd.DataFrame:
        """One row of scores per snapshot of `history` (in its order): an input adapter of
        `score_matrix` for a `LeadHistory`, in chunks of `batch_size` snapshots."""
        parts = [self._score_chunk(chunk, explain) for chunk in _chunks(history, batch_size)] or [
            self._score_chunk(history, explain)
        ]
        return pd.concat(parts, ignore_index=True)

    def _score_chunk(self, history: LeadHistory, explain: bool) -> pd.DataFrame:
        A = self.featurizer.transform_matrix(history)
        out: dict[str, Any] = {
            "lead_id": history.snapshots["lead_id"].to_numpy(),
            "as_of": history.snapshots["as_of"].to_numpy(),
        }
        out.update(self.score_matrix(A, explain))
        return pd.DataFrame(out, columns=list(SCORE_COLUMNS))

    def score_matrix(self, A: np.ndarray, explain: bool, num_threads: int | None = None) -> dict:
        """Every score column but lead_id and as_of, for the rows of a `transform_matrix`.

        The scorer's implementation: every path (batch, pyfunc, service) scores here.
        """
        n = len(A)
        # Numbers beyond the training range score (and read in reasons) as its edge.
        A = self.model.clip_to_training(A)
        explained = self.model.contributions_from_matrix(A, num_threads) if explain and n else None
        # LightGBM refuses an empty matrix; no snapshots simply means no scores.
        if explained is not None:
            probability = self.model.proba_from_contributions(explained)
        else:
            probability = self.model.proba_from_matrix(A, num_threads) if n else np.zeros(0)
        out: dict[str, Any] = {
            "probability": probability,
            "percentile": ReferenceScores.percentile(self.reference.probability, probability),
            "tier": assign_tier(probability, self.policy),
        }
        if explained is not None:
            contrib = explained[:, :-1]
            fit, engagement = self.group_contributions(contrib)
            out["fit_score"] = ReferenceScores.percentile(self.reference.fit, fit)
            out["engagement_score"] = ReferenceScores.percentile(
                self.reference.engagement, engagement
            )
            out["reasons_positive"], out["reasons_negative"] = self.reasons(
                self.featurizer.matrix_columns(A), contrib
            )
        else:
            out["fit_score"] = np.full(n, np.nan)
            out["engagement_score"] = np.full(n, np.nan)
            out["reasons_positive"] = [[] for _ in range(n)]
            out["reasons_negative"] = [[] for _ in range(n)]
        return out

    def reasons(
        self, columns: Mapping[str, np.ndarray], contrib: np.ndarray
    ) -> tuple[list[Any], list[Any]]:
        """Top positive and negative reasons per row, from its feature `columns` and `contrib`.

        Contributions are summed per reason (an activity type, an attribute) and compared with
        a typical lead's: a reason is what moves this lead's score away from its peers', so a
        statement true of nearly every lead ("Never read the careers page") only shows when it
        really separates the lead. Phrases never contradict the direction (no "0 activities"
        for a higher score, no "picking up" for a lower one).
        """
        index = self._reason_index()
        keys, inputs = index.keys, index.inputs
        grouped = index.grouped(contrib, columns)
        grouped -= index.typical(getattr(self.reference, "typical_reasons", None) or {})
        order = np.argsort(-grouped, axis=1, kind="stable").tolist()
        signs = np.sign(np.where(np.abs(grouped) >= MIN_REASON_LOG_ODDS, grouped, 0.0)).tolist()
        top = self.top_reasons
        lists = {name: columns[name].tolist() for name in index.columns}
        memo = self._phrases
        if len(memo) >= MAX_REMEMBERED_PHRASES:
            memo.clear()
        rules = index.rules

        def phrase(i: int, j: int) -> str:
            # Phrases are remembered per reason and input values: most leads share theirs.
            values = tuple(None if c is None else lists[c][i] for c in inputs[j])
            memo_key = (j, *(None if v != v else v for v in values))  # NaN never equals a key
            text = memo.get(memo_key)
            if text is None:
                text = memo[memo_key] = self._phrase(columns, i, str(keys[j]))
            return text

        def agrees(i: int, j: int, sign: float) -> bool:
            rule = rules[j]
            if rule is None:
                return True
            value = lists[inputs[j][0]][i]  # type: ignore[index]
            if value != value:
                value = 0.0
            if rule == VELOCITY:
                return bool(value * sign >= 0.05)
            return sign < 0 or value > 0  # an absence never raises a score

        def pick(i: int, ranked: list[int], sign: list[float], want: float) -> list[str]:
            out: list[str] = []
            for j in ranked:
                if sign[j] != want:
                    break
                if agrees(i, j, want):
                    out.append(phrase(i, j))
                    if len(out) == top:
                        break
            return out

        positives, negatives = [], []
        for i, (ranked, sign) in enumerate(zip(order, signs, strict=True)):
            positives.append(pick(i, ranked, sign, 1.0))
            negatives.append(pick(i, ranked[::-1], sign, -1.0))
        return positives, negatives

    def _reason_index(self) -> ReasonIndex:
        """The reason keys and what their words read (built once, never pickled)."""
        index = self.__dict__.get("_reason_plan")
        if index is None:
            index = self.__dict__["_reason_plan"] = self.plan.index(self.featurizer)
        return index

    def _phrase(self, columns: Mapping[str, np.ndarray], i: int, key: str) -> str:
        """Row i's words for one reason key (`activity:TYPE` or `feature:NAME`)."""
        kind, _, name = key.partition(":")
        if kind == "activity":
            count_col = self.plan.activity_count_feature.get(name)
            last_col = self.plan.activity_last_feature.get(name)
            count = float(columns[count_col][i]) if count_col else math.nan
            last = float(columns[last_col][i]) if last_col else math.nan
            return describe_activity(name, count, last)
        info = self.featurizer.feature_info_[name]
        value: Any = columns[name][i]
        if info.group == ENGAGEMENT and info.kind != LEAD_AGE:
            return describe_engagement(info.kind, info.window_days, float(value))
        if info.kind == LOG1P and not pd.isna(value):
            value = math.expm1(float(value))
        column = _ATTRIBUTE_NAMES.get(info.kind) or info.source_column or name
        return describe_attribute(column, value)


def _chunks(history: LeadHistory, size: int) -> Iterator[LeadHistory]:
    n = len(history.snapshots)
    for start in range(0, n, size):
        yield replace(history, snapshots=history.snapshots.iloc[start : start + size])
