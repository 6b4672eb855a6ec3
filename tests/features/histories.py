"""Builders of small LeadHistory inputs for feature tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.contract import LEAD_OPTIONAL
from features.history import LeadHistory

TYPES = ("page_view", "pricing_page_view", "email_open", "demo_request", "contact_sales")


def lead_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A normalised leads table: every optional column present, timestamps datetime64[ns]."""
    frame = pd.DataFrame(list(rows))
    frame["created_at"] = pd.to_datetime(frame["created_at"], format="ISO8601").astype(
        "datetime64[ns]"
    )
    for column in LEAD_OPTIONAL:
        if column not in frame:
            frame[column] = np.nan if column == "company_size" else None
    return frame


def activity_frame(rows: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """Activities from (lead_id, occurred_at, activity_type) tuples."""
    frame = pd.DataFrame(list(rows), columns=["lead_id", "occurred_at", "activity_type"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], format="ISO8601").astype(
        "datetime64[ns]"
    )
    frame["lead_id"] = frame["lead_id"].astype("str")
    frame["activity_type"] = frame["activity_type"].astype("str")
    return frame


def snapshot_frame(rows: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Snapshots from (lead_id, as_of) tuples."""
    frame = pd.DataFrame(list(rows), columns=["lead_id", "as_of"])
    frame["as_of"] = pd.to_datetime(frame["as_of"], format="ISO8601").astype("datetime64[ns]")
    return frame


def history(
    leads: Sequence[dict[str, Any]],
    activities: Sequence[tuple[str, str, str]],
    snapshots: Sequence[tuple[str, str]],
) -> LeadHistory:
    return LeadHistory(lead_frame(leads), activity_frame(activities), snapshot_frame(snapshots))


def random_history(
    n_leads: int, n_activities: int, snapshots_per_lead: int, seed: int
) -> LeadHistory:
    """Random leads over a year with activities and snapshots after creation, ties included."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    hour = pd.Timedelta(hours=1)
    created = start + rng.integers(0, 24 * 200, n_leads) * hour
    ids = np.array([f"lead-{i}" for i in range(n_leads)], dtype=object)
    leads = lead_frame(
        [
            {
                "lead_id": ids[i],
                "created_at": created[i],
                "source": rng.choice(["web", "ads", "event", None]),
                "country": rng.choice(["US", "DE", "FR", "XX", None]),
                "industry": rng.choice(["software", "retail", None]),
                "company_size": rng.choice([1.0, 40.0, 900.0, 12_000.0, np.nan]),
                "job_title": rng.choice(["CEO", "VP Sales", "student", "engineer", None]),
                "email_domain": rng.choice(["gmail.com", "acme.com", None]),
                "crm_score": rng.choice([0.5, 2.0, np.nan]),
                "crm_tier": rng.choice(["gold", "silver", None]),
            }
            for i in range(n_leads)
        ]
    )
    who = rng.integers(0, n_leads, n_activities)
    # Whole hours on a coarse grid make same-instant ties common.
    occurred = created[who] + rng.integers(-24, 24 * 150, n_activities) * hour
    types = rng.choice([*TYPES, "rare_type"], n_activities, p=[0.4, 0.1, 0.3, 0.1, 0.09, 0.01])
    activities = activity_frame(list(zip(ids[who], occurred.astype(str), types, strict=True)))
    lead_rep = np.repeat(np.arange(n_leads), snapshots_per_lead)
    as_of = created[lead_rep] + rng.integers(0, 24 * 160, len(lead_rep)) * hour
    snapshots = snapshot_frame(list(zip(ids[lead_rep], as_of.astype(str), strict=True)))
    return LeadHistory(leads, activities, snapshots)


def only_lead(source: LeadHistory, lead_id: str, as_of: Sequence[pd.Timestamp]) -> LeadHistory:
    """The rows of one lead, with its own snapshots."""
    leads = source.leads[source.leads["lead_id"] == lead_id].reset_index(drop=True)
    acts = source.activities[source.activities["lead_id"] == lead_id].reset_index(drop=True)
    snaps = pd.DataFrame({"lead_id": [lead_id] * len(as_of), "as_of": list(as_of)})
    snaps["as_of"] = snaps["as_of"].astype("datetime64[ns]")
    return LeadHistory(leads, acts, snaps)
