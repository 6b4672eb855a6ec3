"""The contract's one timestamp rule: tz-naive UTC, no offset means UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from features.contract import utc_naive, utc_naive_column, utc_naive_datetime, utc_naive_ns


def test_offsets_are_converted_to_utc_and_dropped() -> None:
    paris = timezone(timedelta(hours=2))
    assert utc_naive(datetime(2026, 6, 30, 14, 0, tzinfo=paris)) == pd.Timestamp("2026-06-30 12:00")
    assert utc_naive("2026-06-30T12:00:00-05:00") == pd.Timestamp("2026-06-30 17:00")
    assert utc_naive("2026-06-30T12:00:00-05:00").tzinfo is None


def test_no_offset_means_utc_in_nanoseconds() -> None:
    stamp = utc_naive("2026-06-30T12:00:00")
    assert stamp == pd.Timestamp("2026-06-30 12:00")
    assert stamp.unit == "ns"


# Naive, UTC, fixed offsets both ways, and a zone on both sides of a DST change.
INSTANTS = [
    datetime(2026, 6, 30, 12, 0, 0, 123_456),
    datetime(2026, 6, 30, 12, 0, tzinfo=UTC),
    datetime(2026, 6, 30, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 1, 1, 0, 15, tzinfo=timezone(timedelta(hours=-8))),
    datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris")),
]


def test_the_adapters_apply_the_same_rule_as_utc_naive() -> None:
    expected = [utc_naive(value) for value in INSTANTS]
    assert [pd.Timestamp(utc_naive_datetime(value)) for value in INSTANTS] == expected
    as_text = pd.Series([value.isoformat() for value in INSTANTS])
    np.testing.assert_array_equal(
        utc_naive_ns(as_text), np.array([e.value for e in expected], dtype=np.int64)
    )
    aware = pd.Series(pd.to_datetime([v.isoformat() for v in INSTANTS[1:]], utc=True))
    np.testing.assert_array_equal(
        utc_naive_ns(aware), np.array([e.value for e in expected[1:]], dtype=np.int64)
    )
    for text_format in ("ISO8601", "mixed"):
        assert utc_naive_column(as_text, text_format).tolist() == expected
    assert utc_naive_column(aware).tolist() == expected[1:]
    assert utc_naive_column(aware).dtype == np.dtype("datetime64[ns]")


def test_the_column_adapter_coerces_or_raises_on_text_that_is_no_time() -> None:
    coerced = utc_naive_column(pd.Series(["2026-06-30T12:00:00+02:00", "soon"]), "mixed")
    assert coerced.iloc[0] == pd.Timestamp("2026-06-30 10:00")
    assert pd.isna(coerced.iloc[1])
    with pytest.raises(ValueError):
        utc_naive_column(pd.Series(["soon"]), "mixed", errors="raise")


def test_the_column_adapter_keeps_missing_and_unparsable_as_nat() -> None:
    values = utc_naive_ns(pd.Series(["2026-06-30T12:00:00Z", None, "not a date"]))
    assert values[0] == pd.Timestamp("2026-06-30 12:00").value
    assert (values[1:] == np.datetime64("NaT").view(np.int64)).all()


def test_only_custom_lead_columns_can_be_dropped() -> None:
    import pytest

    from features.build import LeadFeaturizer
    from features.history import LeadHistory
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
