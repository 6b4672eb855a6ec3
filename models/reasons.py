"""Reasons in words a salesperson reads, from SHAP contributions grouped per reason."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from features.build import MISSING_LEVEL, OTHER_LEVEL
from features.info import (
    ACTIVE_DAYS,
    COUNT,
    DAYS_SINCE_LAST,
    DECAYED_COUNT,
    INTENT_MIX,
    INTENT_PEAK,
    OTHER_ACTIVITY,
    VELOCITY,
)

ACTIVITY_PHRASES = {
    "demo_request": "Requested a demo",
    "contact_sales": "Contacted sales",
    "pricing_page_view": "Viewed the pricing page",
    "form_submission": "Submitted a form",
    "email_click": "Clicked a marketing email",
    "email_open": "Opened a marketing email",
    "webinar_registration": "Registered for a webinar",
    "case_study_download": "Downloaded a case study",
    "free_trial_signup": "Signed up for a free trial",
    "chat_started": "Started a chat",
    "page_view": "Visited the website",
    "blog_view": "Read the blog",
    "careers_page_view": "Read the careers page",
    "about_page_view": "Read the about page",
    "unsubscribe": "Unsubscribed from emails",
}
SIZE_BANDS = (
    (5000, "Company of 5,000+ employees"),
    (1000, "Company of 1,000-4,999 employees"),
    (250, "Company of 250-999 employees"),
    (50, "Company of 50-249 employees"),
    (10, "Company of 10-49 employees"),
    (0, "Company of fewer than 10 employees"),
)


def activity_phrase(activity_type: str) -> str:
    """How a salesperson would say that the lead did this."""
    if activity_type in ACTIVITY_PHRASES:
        return ACTIVITY_PHRASES[activity_type]
    if activity_type == OTHER_ACTIVITY:
        return "Had other activity"
    return f"Had '{activity_type.replace('_', ' ')}' activity"


def _days(value: float) -> str:
    days = math.floor(value)
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def _times(count: float) -> str:
    n = round(count)
    return "once" if n == 1 else f"{n} times"


def describe_activity(activity_type: str, count: float, days_since_last: float) -> str:
    """ "Requested a demo 2 days ago", "Viewed the pricing page 4 times, last 3 days ago"."""
    phrase = activity_phrase(activity_type)
    if not count or (isinstance(count, float) and math.isnan(count)):
        lowered = phrase[0].lower() + phrase[1:]
        return f"Never {lowered}" if activity_type in ACTIVITY_PHRASES else f"No {phrase[4:]}"
    when = "" if math.isnan(days_since_last) else _days(days_since_last)
    if round(count) <= 1:
        return f"{phrase} {when}".strip()
    if not when:
        return f"{phrase} {_times(count)}"
    return f"{phrase} {_times(count)}, last {when}"


def describe_company_size(employees: float) -> str:
    if employees is None or math.isnan(employees):
        return "Company size unknown"
    return next(text for low, text in SIZE_BANDS if employees >= low)


def describe_attribute(column: str, value: Any) -> str:
    """A lead attribute as a phrase: "Free-mail address", "Source: paid search"."""
    missing = (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or value == MISSING_LEVEL
    )
    if value == OTHER_LEVEL:
        value = "other"
    label = column.replace("_", " ")
    if column == "company_size":
        return describe_company_size(float("nan") if missing else float(value))
    if column == "free_mail":
        if missing:
            return "No email domain"
        return "Free-mail address" if float(value) >= 0.5 else "Business email domain"
    if column == "seniority":
        return "Job title unknown" if missing or value == "unknown" else f"Seniority: {value}"
    if column == "department":
        return "Department unknown" if missing or value == "unknown" else f"Department: {value}"
    if column == "lead_age_days":
        return "Lead age unknown" if missing else f"Lead created {_days(float(value))}"
    if missing:
        return f"No {label} given"
    if isinstance(value, float):
        return f"{label.capitalize()}: {value:,.4g}"
    return f"{label.capitalize()}: {str(value).replace('_', ' ')}"


def describe_engagement(kind: str, window_days: float | None, value: float) -> str:
    """Behaviour over all activity types: "Active on 4 days in the last 30 days"."""
    within = f" in the last {window_days:g} days" if window_days else ""
    if kind == DAYS_SINCE_LAST:
        return "No activity yet" if math.isnan(value) else f"Last active {_days(value)}"
    if kind == VELOCITY:
        if math.isnan(value) or abs(value) < 0.05:
            return "Steady activity"
        return "Activity picking up lately" if value > 0 else "Activity slowing down lately"
    if kind in (INTENT_PEAK, INTENT_MIX):
        # Only leads without a fresh activity of a buying kind keep this reason (a lead's
        # activity is handed on to its types, models/reason_index.py).
        return "No buying signal lately"
    n = 0 if math.isnan(value) else value
    if kind == ACTIVE_DAYS:
        return f"Active on {int(n)} day{'s' if int(n) != 1 else ''}{within}"
    if kind == COUNT:
        return f"{int(n)} activit{'ies' if int(n) != 1 else 'y'}{within}"
    if kind == DECAYED_COUNT:
        return f"Recent activity level {n:.1f}"
    return f"{kind.replace('_', ' ').capitalize()}: {n:,.4g}"
