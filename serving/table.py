"""Serving a single-table model: its leads checked and scored (the request schema built from
its columns is in `serving.table_schema`).

The response has the export model's fields; the scores do not depend on `as_of` (a table has
no activities), which is echoed like the export model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from models.table_scorer import TableScorer
from serving.engine import ActivityColumns, EngineScores
from serving.errors import invalid_request, lead_problem
from serving.table_schema import ID_FIELD, TableLead


def check_table_leads(
    leads: Sequence[TableLead], default_as_of: datetime
) -> tuple[list[datetime], list[dict[str, Any]], None]:
    """Each lead's as_of (the request's), no warnings; names each lead's id, refusing repeats."""
    problems = []
    seen: dict[str, int] = {}
    for i, lead in enumerate(leads):
        identity = getattr(lead, ID_FIELD, None)
        lead._lead_id = str(i) if identity is None else str(identity)
        if identity is not None:
            first = seen.setdefault(lead._lead_id, i)
            if first != i:
                problems.append(lead_problem(i, "lead_id", f"duplicate of leads[{first}]'s id"))
    if problems:
        raise invalid_request(problems)
    return [default_as_of] * len(leads), [], None


class TableEngine:
    """Scores validated table leads with `TableScorer.score` (so as batch scoring does)."""

    def __init__(self, scorer: TableScorer) -> None:
        self.scorer = scorer

    def score(
        self,
        leads: Sequence[TableLead],
        as_of: Sequence[datetime],
        explain: bool,
        activities: ActivityColumns | None = None,
    ) -> EngineScores:
        rows = pd.DataFrame(
            [lead.columns for lead in leads], columns=self.scorer.input_columns, dtype=object
        )
        scores = self.scorer.score(rows, explain)
        # A table has no activities, so no fit / engagement split: null in the response.
        absent = np.full(len(rows), None, dtype=object)
        return EngineScores(
            probability=scores["probability"].to_numpy(dtype=np.float64),
            percentile=scores["percentile"].to_numpy(),
            tier=scores["tier"].to_numpy(),
            fit_score=absent,
            engagement_score=absent,
            reasons_positive=list(scores["reasons_positive"]),
            reasons_negative=list(scores["reasons_negative"]),
        )
