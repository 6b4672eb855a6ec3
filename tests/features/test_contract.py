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
