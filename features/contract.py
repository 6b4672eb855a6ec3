"""The CRM export data contract: table and column names, and the normalised `Export`.

Normalised frames (what every reader and the validator hand on) follow these rules:
- timestamps are ``datetime64[ns]`` and tz-naive UTC (offsets converted, no offset means UTC);
- ``lead_id``, ``opportunity_id``, ``activity_type`` are strings;
- every standard optional column exists (all-missing when the export did not have it);
- any other column of ``leads`` is an extra attribute and is kept as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

# Re-exported: the service imports it from features.instants, without pandas.
from features.instants import utc_naive_datetime as utc_naive_datetime

LEADS = "leads"
ACTIVITIES = "activities"
OPPORTUNITIES = "opportunities"
TABLES = (LEADS, ACTIVITIES, OPPORTUNITIES)

LEAD_REQUIRED = ("lead_id", "created_at")
LEAD_OPTIONAL = (
    "source",
    "campaign",
    "country",
    "industry",
    "company_size",
    "job_title",
    "email_domain",
)
ACTIVITY_REQUIRED = ("lead_id", "occurred_at", "activity_type")
ACTIVITY_OPTIONAL = ("detail",)
OPPORTUNITY_REQUIRED = ("opportunity_id", "lead_id", "created_at", "status")
OPPORTUNITY_OPTIONAL = ("closed_at", "amount")
OPPORTUNITY_STATUSES = ("open", "won", "lost")

REQUIRED_COLUMNS = {
    LEADS: LEAD_REQUIRED,
    ACTIVITIES: ACTIVITY_REQUIRED,
    OPPORTUNITIES: OPPORTUNITY_REQUIRED,
}
OPTIONAL_COLUMNS = {
    LEADS: LEAD_OPTIONAL,
    ACTIVITIES: ACTIVITY_OPTIONAL,
    OPPORTUNITIES: OPPORTUNITY_OPTIONAL,
}
TIMESTAMP_COLUMNS = {
    LEADS: ("created_at",),
    ACTIVITIES: ("occurred_at",),
    OPPORTUNITIES: ("created_at", "closed_at"),
}


def utc_naive(stamp: Any) -> pd.Timestamp:
    """A timestamp as the contract holds it: tz-naive UTC in nanoseconds (no offset means UTC).

    This is the implementation of the project's one time rule: a timestamp with an offset is
    converted to UTC and the offset dropped; one without an offset is UTC already.
    `utc_naive_column` and `utc_naive_ns` (a column) and `utc_naive_datetime` (one stdlib
    datetime, for the service's request validation; in `features.instants`) are thin adapters
    applying the same rule where pandas per value would be too slow;
    tests/features/test_contract.py checks that they agree.
    """
    ts = pd.Timestamp(stamp)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def utc_naive_column(
    values: pd.Series, text_format: str = "ISO8601", errors: str = "coerce"
) -> pd.Series:
    """`utc_naive` on a column, as datetime64[ns]: native datetimes converted, text parsed.

    Adapter for tables: `text_format` is "ISO8601" for the data contract and "mixed" for
    tables of unknown shape; with errors="coerce" unparsable text becomes NaT (the caller
    counts it), with "raise" it raises.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    parsed = pd.to_datetime(values, format=text_format, utc=True, errors=errors)  # type: ignore[call-overload]
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def utc_naive_ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """`utc_naive` on a column, as int64 nanoseconds since the epoch; missing as NaT's integer.

    Adapter for the featurizer: native datetimes are read as they are, text is parsed as
    ISO-8601 (unparsable text becomes missing).
    """
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":
            return values.astype("datetime64[ns]").view(np.int64)
        values = pd.Series(values, dtype=object)
    return utc_naive_column(values).to_numpy(dtype="datetime64[ns]").view(np.int64)


@dataclass(frozen=True)
class Export:
    """A validated, normalised CRM export: the three tables of the data contract."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    opportunities: pd.DataFrame

    @property
    def extra_lead_columns(self) -> list[str]:
        """Lead columns beyond the contract: a company's custom CRM fields."""
        return extra_lead_columns(self.leads)

    def without_extra_columns(self, columns: Sequence[str]) -> Export:
        """The export without these custom lead columns (say, ids or fields filled in later).

        Only extra columns can go: the contract's own columns are features the service reads
        from every request, so leaving them out of training would skew scoring.
        """
        extra = set(self.extra_lead_columns)
        contract = [c for c in columns if c in LEAD_REQUIRED or c in LEAD_OPTIONAL]
        if contract:
            raise ValueError(
                f"cannot drop data-contract lead columns {contract}; only custom ones "
                f"({', '.join(sorted(extra)) or 'none in this export'})"
            )
        unknown = [c for c in columns if c not in extra]
        if unknown:
            raise ValueError(
                f"no such lead columns to drop: {unknown}; custom lead columns are "
                f"{', '.join(sorted(extra)) or 'none'}"
            )
        return replace(self, leads=self.leads.drop(columns=list(columns)))

    @property
    def cutoff(self) -> pd.Timestamp:
        """The export's last timestamp: the default `as_of` of training and scoring."""
        last_activity = self.activities["occurred_at"].max() if len(self.activities) else None
        return export_cutoff(self.leads, last_activity, self.opportunities)

    def known_at(self, cutoff: pd.Timestamp) -> Export:
        """The export as it stood at `cutoff`: leads created and activities occurred by then,
        opportunities created by then, and of those only the outcomes closed by then (a deal
        that closed later was still open). Lead fields edited later cannot be told apart."""
        leads = self.leads[self.leads["created_at"] <= cutoff]
        known = self.activities["lead_id"].isin(leads["lead_id"])
        activities = self.activities[known & (self.activities["occurred_at"] <= cutoff)]
        opportunities = self.opportunities[
            self.opportunities["lead_id"].isin(leads["lead_id"])
            & (self.opportunities["created_at"] <= cutoff)
        ]
        open_then = (opportunities["closed_at"] > cutoff).to_numpy()
        opportunities = opportunities.assign(
            status=opportunities["status"].where(~open_then, "open"),
            closed_at=opportunities["closed_at"].where(~open_then),
        )
        return Export(
            leads=leads.reset_index(drop=True),
            activities=activities.reset_index(drop=True),
            opportunities=opportunities.reset_index(drop=True),
        )


def extra_lead_columns(leads: pd.DataFrame) -> list[str]:
    """Lead columns beyond the contract: a company's custom CRM fields."""
    known = set(LEAD_REQUIRED) | set(LEAD_OPTIONAL)
    return [c for c in leads.columns if c not in known]


def export_cutoff(
    leads: pd.DataFrame, last_activity: pd.Timestamp | None, opportunities: pd.DataFrame
) -> pd.Timestamp:
    """An export's last timestamp, from its normalised leads and opportunities and the time
    of its last activity (the activities themselves need not be held: `leadscore validate`)."""
    stamps = [
        leads["created_at"].max(),
        last_activity,
        opportunities["created_at"].max() if len(opportunities) else pd.NaT,
        opportunities["closed_at"].max() if len(opportunities) else pd.NaT,
    ]
    return max(s for s in stamps if s is not None and not pd.isna(s))
