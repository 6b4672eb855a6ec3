"""The contract's one timestamp rule: tz-naive UTC, no offset means UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from features.contract import utc_naive


def test_offsets_are_converted_to_utc_and_dropped() -> None:
    paris = timezone(timedelta(hours=2))
    assert utc_naive(datetime(2026, 6, 30, 14, 0, tzinfo=paris)) == pd.Timestamp("2026-06-30 12:00")
    assert utc_naive("2026-06-30T12:00:00-05:00") == pd.Timestamp("2026-06-30 17:00")
    assert utc_naive("2026-06-30T12:00:00-05:00").tzinfo is None


def test_no_offset_means_utc_in_nanoseconds() -> None:
    stamp = utc_naive("2026-06-30T12:00:00")
    assert stamp == pd.Timestamp("2026-06-30 12:00")
    assert stamp.unit == "ns"


def test_only_custom_lead_columns_can_be_dropped() -> None:
    import pytest

    from features.build import LeadFeaturizer, LeadHistory
    from tests.conftest import make_export

    export = make_export(
        [
            {"lead_id": "a", "created_at": "2026-01-01", "crm_row_id": 17, "plan": "gold"},
            {"lead_id": "b", "created_at": "2026-01-02", "crm_row_id": 18, "plan": "free"},
        ]
    )
    assert set(export.extra_lead_columns) == {"crm_row_id", "plan"}
    dropped = export.without_extra_columns(["crm_row_id"])
    assert dropped.extra_lead_columns == ["plan"]
    assert "crm_row_id" in export.leads  # the original is untouched
    history = LeadHistory.at(dropped.leads, dropped.activities, pd.Timestamp("2026-02-01"))
    names = LeadFeaturizer().fit(history).feature_names_out_
    assert not any("crm_row_id" in n for n in names) and any("plan" in n for n in names)
    with pytest.raises(ValueError, match="data-contract lead columns"):
        export.without_extra_columns(["source"])
    with pytest.raises(ValueError, match=r"no such lead columns to drop: \['nope'\]"):
        export.without_extra_columns(["nope"])
