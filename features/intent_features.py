"""The pooled buying-intent features of a `LeadFeaturizer` (`features.intent`): learning each
activity type's lift after `fit`, and computing the two features from the activity statistics
(`transform`) or from a frame of the featurizer's own features (`intent_frame`, training)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from features import info as fi
from features.activity import StatKey
from features.info import OTHER_ACTIVITY, FeatureInfo
from features.intent import intent_values, learn_lifts


class IntentFeatures:
    """Mixed into `LeadFeaturizer`: its intent lifts (None until `fit_intent`), the columns of
    the statistics they read, and how both feature values are computed."""

    intent_half_life_days: float | None
    intent_lifts_: dict[str, float] | None
    intent_columns_: tuple[np.ndarray, np.ndarray, int, np.ndarray]
    if TYPE_CHECKING:
        activity_types_: list[str]
        feature_info_: dict[str, FeatureInfo]
        numeric_features_: list[str]

        def _describe(self, levels: dict[str, list[str]]) -> None: ...
        def _levels(self) -> dict[str, list[str]]: ...

    def fit_intent(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        rows: np.ndarray,
    ) -> Any:
        """Learn each activity type's lift (`features.intent`) from the labelled `rows` of X,
        this featurizer's own features; `transform` then adds the two intent features.

        Labels come from the caller's fitting cohort only (point in time: X's features are).
        """
        check_is_fitted(self, "feature_names_out_")
        if self.intent_half_life_days is None:
            raise ValueError("intent features need intent_half_life_days")
        recency = np.column_stack([X[r].to_numpy()[rows] for r, _ in self.intent_inputs()[0]])
        weight = None if sample_weight is None else sample_weight[rows]
        lifts = learn_lifts(recency, y[rows], weight, self.intent_half_life())
        types = [*self.activity_types_, OTHER_ACTIVITY]
        self.intent_lifts_ = dict(zip(types, lifts.tolist(), strict=True))
        self._describe(self._levels())
        return self

    def intent_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The intent features of X's rows, computed from X's own activity features: the same
        function `transform` applies to its statistics."""
        check_is_fitted(self, "intent_columns_")
        inputs, decayed_all = self.intent_inputs()
        peak, mix = intent_values(
            np.column_stack([X[r].to_numpy() for r, _ in inputs]),
            np.column_stack([X[d].to_numpy() for _, d in inputs]),
            X[decayed_all].to_numpy(),
            self.intent_columns_[3],
            self.intent_half_life(),
        )
        names = self.numeric_features_[-2:]
        return pd.DataFrame({names[0]: peak, names[1]: mix}, index=X.index)

    def intent_half_life(self) -> float:
        if self.intent_half_life_days is None:
            raise ValueError("this featurizer has no intent half-life")
        return float(self.intent_half_life_days)

    def intent_inputs(self) -> tuple[list[tuple[str, str]], str]:
        """Per type column (vocabulary, then other): its days-since-last and decayed-count
        features at the intent half-life; and all activities' decayed count."""
        half_life = self.intent_half_life()
        by_type: dict[str | None, dict[str, str]] = {}
        for name, info in self.feature_info_.items():
            if info.kind == fi.DAYS_SINCE_LAST or (
                info.kind == fi.DECAYED_COUNT and info.half_life_days == half_life
            ):
                by_type.setdefault(info.activity_type, {})[info.kind] = name
        types = (*self.activity_types_, OTHER_ACTIVITY)
        pairs = [(by_type[t][fi.DAYS_SINCE_LAST], by_type[t][fi.DECAYED_COUNT]) for t in types]
        return pairs, by_type[None][fi.DECAYED_COUNT]

    def _plan_intent(self, layout: dict[StatKey, int], n_types: int) -> None:
        """Where the intent features read the statistics (`features.activity.stats_layout`)."""
        if self.intent_lifts_ is None:
            self.__dict__.pop("intent_columns_", None)
            return
        columns = range(n_types)
        half_life = self.intent_half_life()
        self.intent_columns_ = (
            np.array([layout[(fi.DAYS_SINCE_LAST, c, None)] for c in columns]),
            np.array([layout[(fi.DECAYED_COUNT, c, half_life)] for c in columns]),
            layout[(fi.DECAYED_COUNT, n_types, half_life)],
            np.array([self.intent_lifts_[t] for t in (*self.activity_types_, OTHER_ACTIVITY)]),
        )

    def _intent_from_stats(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The peak and the mix of each row of an activity statistics matrix."""
        recency, decayed, decayed_all, lifts = self.intent_columns_
        return intent_values(
            stats[:, recency], stats[:, decayed], stats[:, decayed_all], lifts,
            self.intent_half_life(),
        )  # fmt: skip
