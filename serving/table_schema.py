"""A single-table model's request schema, built from its input columns.

The envelope is the service's own (`{"leads": [...], "as_of": ..., "explain": ...}`); each lead
is an object of the training table's columns, every one optional (a missing column reads as
empty, as in batch scoring), nothing else accepted. Built from the column names and kinds
alone (no pandas), so that the service module can build it at import from the prepared model
folder: BentoML fixes an `@bentoml.api` endpoint's input type when the class is defined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, create_model

from serving.config import MAX_LEADS_PER_REQUEST
from serving.schemas import FiniteNumber, LeadId, Text, Timestamp

ID_FIELD = "lead_key"
# features.tabular's name of a categorical column's kind (a test keeps them equal; importing
# it would load pandas in BentoML's supervisor).
CATEGORY = "category"
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


def table_lead_model(
    input_columns: Sequence[str], kinds: Mapping[str, str], id_column: str | None
) -> type[TableLead]:
    """A pydantic model of one lead: every input column (and the id column) optional."""
    fields: dict[str, Any] = {}
    columns = list(input_columns)
    if id_column is not None and id_column not in columns:
        columns.insert(0, id_column)
    for i, column in enumerate(columns):
        name = f"column_{i}"
        if column == id_column:
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
