"""Reasons read as a salesperson would say them."""

from __future__ import annotations

import math

import pytest

from models.reasons import describe_activity, describe_attribute, describe_company_size


@pytest.mark.parametrize(
    ("activity", "count", "days", "text"),
    [
        ("demo_request", 1, 2.4, "Requested a demo 2 days ago"),
        ("pricing_page_view", 4, 3.0, "Viewed the pricing page 4 times, last 3 days ago"),
        ("contact_sales", 1, 0.3, "Contacted sales today"),
        ("email_click", 1, 1.2, "Clicked a marketing email yesterday"),
        ("demo_request", 0, math.nan, "Never requested a demo"),
        ("partner_referral", 2, 5.0, "Had 'partner referral' activity 2 times, last 5 days ago"),
        ("partner_referral", 0, math.nan, "No 'partner referral' activity"),
    ],
)
def test_describe_activity(activity: str, count: float, days: float, text: str) -> None:
    assert describe_activity(activity, count, days) == text


@pytest.mark.parametrize(
    ("employees", "text"),
    [
        (12_000, "Company of 5,000+ employees"),
        (5_000, "Company of 5,000+ employees"),
        (4_999, "Company of 1,000-4,999 employees"),
        (7, "Company of fewer than 10 employees"),
        (math.nan, "Company size unknown"),
    ],
)
def test_describe_company_size(employees: float, text: str) -> None:
    assert describe_company_size(employees) == text


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("free_mail", 1.0, "Free-mail address"),
        ("free_mail", 0.0, "Business email domain"),
        ("free_mail", math.nan, "No email domain"),
        ("seniority", "vp", "Seniority: vp"),
        ("source", "paid_search", "Source: paid search"),
        ("industry", None, "No industry given"),
        ("source", "__missing__", "No source given"),
        ("country", "__other__", "Country: other"),
        ("lead_age_days", 3.5, "Lead created 3 days ago"),
    ],
)
def test_describe_attribute(column: str, value: object, text: str) -> None:
    assert describe_attribute(column, value) == text
