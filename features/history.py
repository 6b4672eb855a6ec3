"""What the featurizer reads: a `LeadHistory` (leads, activities and the (lead, as_of)
snapshots wanted) or, for the service, `LeadRows` (one snapshot per lead, activities already by
lead row); both are checked and turned into the same `Prepared` arrays, so one featurizer code
path serves a single lead and millions of snapshots (`features/build.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import utc_naive_ns
from features.values import factorize, locate

NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class LeadHistory:
    """What the featurizer reads: leads, their activities, and the (lead_id, as_of) snapshots.

    `leads` is the normalised leads table of the contract (extra columns kept), `activities`
    has lead_id, occurred_at, activity_type, `snapshots` has lead_id, as_of: one row per
    feature row wanted (a lead may appear many times with different as_of).
    """

    leads: pd.DataFrame
    activities: pd.DataFrame
    snapshots: pd.DataFrame

    @classmethod
    def at(cls, leads: pd.DataFrame, activities: pd.DataFrame, as_of: object) -> LeadHistory:
        """Every lead of `leads`, once, as of one instant (scoring at a cut-off)."""
        snapshots = pd.DataFrame(
            {"lead_id": leads["lead_id"].to_numpy(), "as_of": pd.Timestamp(as_of)}  # type: ignore[arg-type]
        )
        return cls(leads=leads, activities=activities, snapshots=snapshots)


@dataclass(frozen=True)
class Prepared:
    """Validated arrays of a LeadHistory, restricted to the leads that snapshots ask for."""

    leads: LeadTable  # one row per distinct snapshot lead
    snap_lead: np.ndarray  # row of `leads` per snapshot
    as_of: np.ndarray  # int64 ns per snapshot
    created: np.ndarray  # int64 ns per snapshot: its lead's created_at
    act_lead: np.ndarray  # row of `leads` per kept activity
    act_time: np.ndarray  # int64 ns
    act_type: np.ndarray  # index into type_names; -1 when missing
    type_names: list[str]  # distinct raw activity types


# What the featurizer reads a leads table from: a DataFrame, or (for the service, where
# building pandas objects costs more than the features of a few leads) one array per column.
LeadTable = pd.DataFrame | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class LeadRows:
    """Leads to score once each, as of `as_of`, with their activities given by lead row.

    `leads` is the leads table, a DataFrame or a mapping of column name to array (one value
    per lead; its lead_id is used in messages only); the activity arrays hold one value per
    activity. Timestamps are int64 nanoseconds since the epoch, UTC.
    """

    leads: LeadTable
    as_of: np.ndarray
    activity_lead: np.ndarray
    activity_time: np.ndarray
    activity_type: Sequence[str]


def n_rows(frame: LeadTable) -> int:
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    return len(frame["created_at"])


def frame_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or all-missing when the frame lacks it (a partial online record)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def lead_column(frame: LeadTable, name: str) -> pd.Series | np.ndarray:
    """A column of a DataFrame or of arrays; all-missing when the table lacks it."""
    if isinstance(frame, pd.DataFrame):
        return frame_column(frame, name)
    if name in frame:
        return frame[name]
    return np.full(n_rows(frame), None, dtype=object)


def _ids(values: pd.Series, table: str) -> tuple[np.ndarray, list[str]]:
    """Codes into distinct ids as strings (so 17 and "17" are one lead); missing ids raise."""
    codes, uniques = factorize(values)
    if (codes < 0).any():
        raise ValueError(f"{table} has rows without a lead_id")
    return codes, [str(u) for u in uniques]


def prepare(X: LeadHistory) -> Prepared:
    """Check a LeadHistory and turn it into arrays over the leads its snapshots ask for."""
    if not isinstance(X, LeadHistory):
        raise TypeError(f"LeadFeaturizer takes a LeadHistory, got {type(X).__name__}")
    leads, activities, snapshots = X.leads, X.activities, X.snapshots
    for table, frame, required in (
        ("leads", leads, ("lead_id", "created_at")),
        ("activities", activities, ("lead_id", "occurred_at", "activity_type")),
        ("snapshots", snapshots, ("lead_id", "as_of")),
    ):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ValueError(f"{table} lacks required columns {missing}")

    lead_codes, lead_keys = _ids(leads["lead_id"], "leads")
    if len(lead_keys) < len(leads) or len(set(lead_keys)) < len(lead_keys):
        dupes = pd.Series([lead_keys[c] for c in lead_codes]).value_counts()
        raise ValueError(f"duplicate lead_id in leads: {dupes[dupes > 1].index[:5].tolist()}")
    # Ids are distinct, so codes are row numbers and lead_keys[row] is that row's id.
    snap_codes, snap_keys = _ids(snapshots["lead_id"], "snapshots")
    snap_rows = locate(lead_keys, snap_keys)[snap_codes]
    if (snap_rows < 0).any():
        unknown = sorted({snap_keys[c] for c in snap_codes[snap_rows < 0]})[:5]
        raise ValueError(f"snapshots of leads not in the leads table: {unknown}")
    as_of = utc_naive_ns(snapshots["as_of"])
    if (as_of == NAT).any():
        bad = sorted({snap_keys[c] for c in snap_codes[as_of == NAT]})[:5]
        raise ValueError(f"snapshots without an as_of time for leads {bad}")

    needed, snap_lead = np.unique(snap_rows, return_inverse=True)
    sub = leads if len(needed) == len(leads) else leads.iloc[needed]
    created = utc_naive_ns(sub["created_at"])[snap_lead]
    _check_created(created, as_of, lambda early: list({lead_keys[r] for r in snap_rows[early]}))

    # Activities of other leads are dropped; ids and types are mapped once per distinct value.
    compact = np.full(len(lead_keys), -1, dtype=np.int64)
    compact[needed] = np.arange(len(needed))
    id_codes, id_uniques = factorize(activities["lead_id"])
    unique_rows = locate(lead_keys, [str(u) for u in id_uniques])
    unique_leads = np.append(np.where(unique_rows >= 0, compact[unique_rows], -1), -1)
    act_lead = unique_leads[id_codes]
    act_time = utc_naive_ns(activities["occurred_at"])
    return _prepared(
        sub, snap_lead.astype(np.int64), as_of, created, act_lead, act_time,
        activities["activity_type"],
    )  # fmt: skip


def _prepared(
    leads: LeadTable,
    snap_lead: np.ndarray,
    as_of: np.ndarray,
    created: np.ndarray,
    act_lead: np.ndarray,
    act_time: np.ndarray,
    act_types: pd.Series | np.ndarray,
) -> Prepared:
    """The arrays, keeping the activities of wanted leads (row >= 0) that have a time."""
    keep = (act_lead >= 0) & (act_time != NAT)
    type_codes, type_uniques = factorize(act_types)
    return Prepared(
        leads=leads,
        snap_lead=snap_lead,
        as_of=as_of,
        created=created,
        act_lead=act_lead[keep],
        act_time=act_time[keep],
        act_type=type_codes[keep],
        type_names=[str(t) for t in type_uniques],
    )


def _check_created(
    created: np.ndarray, as_of: np.ndarray, keys: Callable[[np.ndarray], list[str]]
) -> None:
    """Refuse snapshots of leads created after their as_of; `keys` names the leads."""
    early = (created != NAT) & (created > as_of)
    if early.any():
        raise ValueError(
            "leads created after their snapshot's as_of (features would see the future): "
            f"{sorted(keys(early))[:5]}"
        )


def prepare_rows(rows: LeadRows) -> Prepared:
    """`prepare` for `LeadRows`: one snapshot per lead row, activities already by row."""
    n = n_rows(rows.leads)
    as_of = np.asarray(rows.as_of, dtype=np.int64)
    act_lead = np.asarray(rows.activity_lead, dtype=np.int64)
    act_time = np.asarray(rows.activity_time, dtype=np.int64)
    if len(as_of) != n or not len(act_lead) == len(act_time) == len(rows.activity_type):
        raise ValueError("LeadRows arrays disagree in length")
    if act_lead.size and (act_lead.min() < 0 or act_lead.max() >= n):
        raise ValueError("activities of leads that are not in LeadRows.leads")
    created = utc_naive_ns(rows.leads["created_at"])
    ids = np.asarray(lead_column(rows.leads, "lead_id"))
    _check_created(created, as_of, lambda early: [str(v) for v in ids[early]])
    return _prepared(
        rows.leads, np.arange(n, dtype=np.int64), as_of, created, act_lead, act_time,
        np.asarray(rows.activity_type, dtype=object),
    )  # fmt: skip
