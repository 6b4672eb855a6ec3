"""`TableScorer`: a single-table model's features + calibrated model + tier policy + reasons.

The counterpart of `LeadScorer` for models trained on one row per lead
(`leadscore train --data TABLE --label-column COL`): it scores rows of that table's columns
instead of lead histories. Batch scoring, the MLflow pyfunc and the service all call
`TableScorer.score`. Its answers have the same fields as `LeadScorer`'s; a table has no
activities, so there are no fit and engagement sub-scores (NaN, null in the service).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from features.tabular import CATEGORY, TabularFeaturizer
from models.conversion import ConversionModel
from models.reasons import describe_attribute
from models.scorer import SCORE_COLUMNS, ReferenceScores
from models.tiers import TierPolicy, assign_tier

log = logging.getLogger(__name__)

# The export scorer's columns but `as_of`: a table model's scores do not depend on time.
TABLE_SCORE_COLUMNS = tuple(c for c in SCORE_COLUMNS if c != "as_of")


class TableScorer:
    """Scores rows of a lead table: probability, percentile, tier and reasons."""

    def __init__(
        self,
        featurizer: TabularFeaturizer,
        model: ConversionModel,
        policy: TierPolicy,
        reference: np.ndarray,
        id_column: str | None = None,
        top_reasons: int = 3,
    ) -> None:
        self.featurizer = featurizer
        self.model = model
        self.policy = policy
        self.reference = np.sort(np.asarray(reference, dtype=np.float64))
        self.id_column = id_column
        self.top_reasons = top_reasons
        model.bind_categories(featurizer.category_dtypes_)

    @property
    def input_columns(self) -> list[str]:
        """The table columns the model reads, as named in the table."""
        return [str(c) for c in self.featurizer.feature_names_in_]

    def column_kinds(self) -> dict[str, str]:
        """Per input column, `numeric` or `category` (as the featurizer reads it)."""
        return dict(self.featurizer.column_kinds_)

    def example(self) -> dict[str, Any]:
        """An invented lead (for docs, the logged input example, `leadscore serve`): the most
        frequent level of each categorical column, 1 for numbers; no real lead's values."""
        lead: dict[str, Any] = {}
        for slug, column in self.featurizer.source_columns_.items():
            levels = self.featurizer.categories_.get(slug)
            if levels is None:
                lead[column] = 1.0
            elif len(levels) > 2:  # kept levels, then __other__ and __missing__
                lead[column] = levels[0]
        return lead

    def with_policy(self, policy: TierPolicy) -> TableScorer:
        return TableScorer(
            self.featurizer, self.model, policy, self.reference, self.id_column, self.top_reasons
        )

    def lead_ids(self, rows: pd.DataFrame) -> list[str]:
        """The id column's values as strings, else the row positions."""
        if self.id_column is not None and self.id_column in rows.columns:
            values = rows[self.id_column].tolist()
            return [str(i) if v is None or v != v else str(v) for i, v in enumerate(values)]
        return [str(i) for i in range(len(rows))]

    def score(self, rows: pd.DataFrame, explain: bool = True) -> pd.DataFrame:
        """One row of scores per row of `rows` (in its order); missing columns read as empty."""
        X = self.featurizer.transform(rows.reset_index(drop=True))
        n = len(X)
        probability = self.model.predict_proba(X)[:, 1] if n else np.zeros(0)
        out: dict[str, Any] = {
            "lead_id": self.lead_ids(rows),
            "probability": probability,
            "percentile": ReferenceScores.percentile(self.reference, probability),
            "tier": assign_tier(probability, self.policy),
            "fit_score": np.full(n, np.nan),
            "engagement_score": np.full(n, np.nan),
        }
        if explain and n:
            contrib = self.model.contributions(X).to_numpy()[:, :-1]
            out["reasons_positive"], out["reasons_negative"] = self.reasons(X, contrib)
        else:
            out["reasons_positive"] = [[] for _ in range(n)]
            out["reasons_negative"] = [[] for _ in range(n)]
        return pd.DataFrame(out, columns=list(TABLE_SCORE_COLUMNS))

    def reasons(self, X: pd.DataFrame, contrib: np.ndarray) -> tuple[list[Any], list[Any]]:
        """Top positive and negative reasons per row: each feature is one table column."""
        columns = [self.featurizer.source_columns_[str(name)] for name in X.columns]
        values = [X[name].tolist() for name in X.columns]
        kinds = self.featurizer.column_kinds_
        order = np.argsort(-contrib, axis=1, kind="stable")
        top = self.top_reasons

        def phrase(i: int, j: int) -> str:
            value = values[j][i]
            if kinds[columns[j]] != CATEGORY and isinstance(value, float) and value.is_integer():
                value = int(value)
            return describe_attribute(columns[j], value)

        positives, negatives = [], []
        for i, ranked in enumerate(order.tolist()):
            row = contrib[i]
            positives.append([phrase(i, j) for j in ranked[:top] if row[j] > 1e-9])
            negatives.append([phrase(i, j) for j in ranked[::-1][:top] if row[j] < -1e-9])
        return positives, negatives
