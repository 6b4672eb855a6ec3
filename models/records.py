"""Lead records (one dict per lead, activities nested) to the frames the featurizer reads.

The MLflow model takes leads this way; the service builds the same frames from its validated
request models (tests/serving/test_consistency.py guards that both score alike).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.contract import LEAD_OPTIONAL, utc_naive
from features.history import LeadHistory

ACTIVITIES_FIELD = "activities"


class RecordError(ValueError):
    """A lead record that cannot be scored; the message names the lead index and field."""


def to_utc_naive(value: Any, where: str) -> pd.Timestamp:
    """An ISO-8601 timestamp (or datetime) as tz-naive UTC; no offset means UTC."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise RecordError(f"{where}: cannot parse timestamp {value!r}") from exc
    if pd.isna(stamp):
        raise RecordError(f"{where}: missing timestamp")
    return utc_naive(stamp)


def records_to_history(
    records: Iterable[Mapping[str, Any]], as_of: Any
) -> tuple[LeadHistory, list[dict[str, Any]]]:
    """Frames for the featurizer, plus warnings for activities at or after `as_of` (not used).

    The MLflow pyfunc's input adapter: JSON lead records (activities nested) become the
    `LeadHistory` that `LeadScorer.score` reads.
    """
    default_as_of = to_utc_naive(as_of, "as_of") if as_of is not None else None
    lead_rows: list[dict[str, Any]] = []
    activity_ids: list[str] = []
    activity_types: list[str] = []
    activity_times: list[pd.Timestamp] = []
    snapshot_as_of: list[pd.Timestamp] = []
    warnings: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        row = {k: v for k, v in record.items() if k not in (ACTIVITIES_FIELD, "as_of")}
        lead_id = row.get("lead_id")
        if lead_id is None or (isinstance(lead_id, float) and np.isnan(lead_id)) or lead_id == "":
            raise RecordError(f"leads[{i}].lead_id: required")
        lead_id = str(lead_id)
        row["lead_id"] = lead_id
        row["created_at"] = to_utc_naive(record.get("created_at"), f"leads[{i}].created_at")
        own = record.get("as_of")
        when = to_utc_naive(own, f"leads[{i}].as_of") if _present(own) else default_as_of
        if when is None:
            raise RecordError(f"leads[{i}].as_of: no as_of given for the lead or the request")
        if row["created_at"] > when:
            raise RecordError(f"leads[{i}].created_at: after as_of {when.isoformat()}")
        snapshot_as_of.append(when)
        lead_rows.append(row)
        activities = record.get(ACTIVITIES_FIELD)
        for j, activity in enumerate(activities if activities is not None else []):
            where = f"leads[{i}].activities[{j}]"
            occurred = to_utc_naive(activity.get("occurred_at"), f"{where}.occurred_at")
            kind = activity.get("activity_type")
            if not isinstance(kind, str) or not kind.strip():
                raise RecordError(f"{where}.activity_type: required, a non-empty string")
            if occurred >= when:
                warnings.append(
                    {
                        "lead_index": i,
                        "activity_index": j,
                        "message": "activity at or after as_of: not used",
                    }
                )
            activity_ids.append(lead_id)
            activity_types.append(kind.strip())
            activity_times.append(occurred)
    leads = pd.DataFrame(lead_rows)
    for column in LEAD_OPTIONAL:
        if column not in leads:
            leads[column] = np.nan if column == "company_size" else None
    leads["company_size"] = pd.to_numeric(leads["company_size"], errors="raise").astype(float)
    activities_frame = pd.DataFrame(
        {
            "lead_id": pd.Series(activity_ids, dtype=object),
            "occurred_at": pd.to_datetime(pd.Series(activity_times, dtype=object)).astype(
                "datetime64[ns]"
            ),
            "activity_type": pd.Series(activity_types, dtype=object),
        }
    )
    snapshots = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy(),
            "as_of": pd.to_datetime(pd.Series(snapshot_as_of, dtype=object)).astype(
                "datetime64[ns]"
            ),
        }
    )
    return LeadHistory(leads=leads, activities=activities_frame, snapshots=snapshots), warnings


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))
