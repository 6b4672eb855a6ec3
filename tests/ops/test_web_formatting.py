"""Numbers and dates on the web app's pages are written for people, not as Python prints them."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ops.web.formatting import (
    DASH,
    count,
    day,
    interval,
    number,
    per_week,
    percent,
    threshold,
    when,
)


def test_shares_are_percentages_with_a_decimal_and_tiny_ones_keep_a_digit() -> None:
    assert percent(0.2391) == "23.9 %"
    assert percent(1) == "100.0 %"
    assert percent(0.0004) == "0.04 %"  # not "0.0 %" for a share that is there
    assert percent(0) == "0.0 %"
    assert interval(0.2071, 0.2762) == "20.7 % to 27.6 %"


def test_volumes_per_week_and_counts_are_rounded_and_separated() -> None:
    assert per_week(43.72) == "43.7"
    assert per_week(874.46) == "874"
    assert per_week(12_345.6) == "12,346"
    assert count(61_672) == "61,672"
    assert count(61_672.0) == "61,672"
    assert number(0.12345, 3) == "0.123"


def test_thresholds_have_the_clis_four_decimals() -> None:
    assert threshold(0.157234) == "0.1572"


def test_dates_read_as_day_month_year_in_utc() -> None:
    assert day("2026-06-29T00:00:00") == "29 Jun 2026"
    assert when("2026-12-03") == "3 Dec 2026"
    assert when("2026-12-03T08:15:00+01:00") == "3 Dec 2026, 07:15 UTC"
    stamp = datetime(2026, 12, 3, 12, 42, tzinfo=UTC).timestamp() * 1000  # MLflow's milliseconds
    assert when(stamp) == "3 Dec 2026, 12:42 UTC"


def test_missing_values_are_a_dash_never_nan_or_none() -> None:
    for format_value in (percent, per_week, count, number, threshold, day, when):
        assert format_value(None) == DASH
    for format_value in (percent, per_week, count, number, threshold):
        assert format_value(math.nan) == DASH
    assert interval(None, 0.3) == ""
