"""Numbers and dates as people read them: 43.7 SQLs per week, 23.9 %, 3 Dec 2026 08:15 UTC."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from features.contract import utc_naive

DASH = "\u2013"  # an en dash for "no value"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def percent(value: Any, digits: int = 1) -> str:
    """0.2391 -> "23.9 %"; tiny non-zero shares keep a significant digit."""
    if _missing(value):
        return DASH
    x = 100 * float(value)
    if 0 < abs(x) < 0.1:
        return f"{x:.2f} %"
    return f"{x:.{digits}f} %"


def per_week(value: Any) -> str:
    """Volumes per week: one decimal below 100, whole numbers above, thousands separated."""
    if _missing(value):
        return DASH
    x = float(value)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def count(value: Any) -> str:
    if _missing(value):
        return DASH
    return f"{float(value):,.0f}"


def number(value: Any, digits: int = 2) -> str:
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f}"


def threshold(value: Any) -> str:
    """Probability thresholds as the CLI prints them (4 decimals)."""
    if _missing(value):
        return DASH
    return f"{float(value):.4f}"


def interval(low: Any, high: Any) -> str:
    if _missing(low) or _missing(high):
        return ""
    return f"{percent(low)} to {percent(high)}"


def when(value: Any) -> str:
    """An ISO time or timestamp as "3 Dec 2026, 08:15 UTC" (dates alone without the time)."""
    if _missing(value) or value == "":
        return DASH
    if isinstance(value, int | float):  # MLflow's milliseconds since the epoch
        stamp = pd.Timestamp(datetime.fromtimestamp(value / 1000, tz=UTC))
    else:
        stamp = pd.Timestamp(value)
    stamp = utc_naive(stamp)
    if stamp == stamp.normalize() and (isinstance(value, str) and len(value) <= 10):
        return f"{stamp.day} {stamp:%b %Y}"
    return f"{stamp.day} {stamp:%b %Y, %H:%M} UTC"


def day(value: Any) -> str:
    if _missing(value) or value == "":
        return DASH
    stamp = pd.Timestamp(value)
    return f"{stamp.day} {stamp:%b %Y}"


FILTERS = {
    "percent": percent,
    "per_week": per_week,
    "count": count,
    "number": number,
    "threshold": threshold,
    "when": when,
    "day": day,
}
