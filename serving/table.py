"""Serving a single-table model: the request schema built from the model's input columns.

The envelope is the service's own (`{"leads": [...], "as_of": ..., "explain": ...}`, the same
response fields); each lead is an object of the training table's columns, every one optional
(a missing column reads as empty, as in batch scoring), nothing else accepted. The scores do not
depend on `as_of` (a table has no activities); it is echoed like the export model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, create_model

from features.tabular import CATEGORY
from models.table_scorer import TableScorer
from serving.config import MAX_LEADS_PER_REQUEST
from serving.engine import ActivityColumns, EngineScores
from serving.errors import invalid_request, lead_problem
from serving.schemas import FiniteNumber, LeadId, Text, Timestamp

ID_FIELD = "lead_key"
# A categorical column's value: text as in the table, or a number / boolean written as one.
CategoryValue = Text | FiniteNumber | StrictBool | None


class TableLead(BaseModel):
    """Base of a table model's lead: its columns are added per model (`table_lead_model`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)
    _lead_id: str = PrivateAttr(default="")

    @property
    def lead_id(self) -> str:
        """The id column's value when the request gives it, else the lead's index."""
        return self._lead_id

    @property
    def columns(self) -> dict[str, Any]:
        """The values by table column name (columns not sent are left out)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


def table_lead_model(scorer: TableScorer) -> type[TableLead]:
    """A pydantic model of one lead: every input column (and the id column) optional."""
    kinds = scorer.column_kinds()
    fields: dict[str, Any] = {}
    columns = list(scorer.input_columns)
    if scorer.id_column is not None and scorer.id_column not in columns:
        columns.insert(0, scorer.id_column)
    for i, column in enumerate(columns):
        name = f"column_{i}"
        if column == scorer.id_column:
            name = ID_FIELD
            kind: Any = LeadId | None
            description = "The lead's id (answered as lead_id); default: its index."
        elif kinds.get(column) == CATEGORY:
            kind = CategoryValue
            description = "Category; values not seen in training count as 'other'."
        else:
            kind = FiniteNumber | None
            description = "Number."
        fields[name] = (
            Annotated[kind, Field(alias=column, description=description)],
            None,
        )
    model: type[TableLead] = create_model(
        "TableLead", __base__=TableLead, __doc__="A lead as a row of the model's table.", **fields
    )
    return model


def table_request_model(lead: type[TableLead]) -> type[BaseModel]:
    """The `POST /score` body for a table model: the service's envelope around `lead`."""
    model: type[BaseModel] = create_model(
        "ScoreRequest",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Leads to score (rows of the model's table).",
        leads=(
            list[lead],  # type: ignore[valid-type]
            Field(
                min_length=1,
                max_length=MAX_LEADS_PER_REQUEST,
                description=f"1 to {MAX_LEADS_PER_REQUEST:,} leads with distinct ids.",
            ),
        ),
        as_of=(
            Timestamp | None,
            Field(default=None, description="Echoed; table scores do not depend on time."),
        ),
        explain=(
            StrictBool,
            Field(default=True, description="Compute reasons; false is faster."),
        ),
    )
    return model


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
