"""The closed loop: logged scores joined with a later export's outcomes, censoring, the report."""

from __future__ import annotations

import pandas as pd
import pytest

from ops.closed_loop import (
    closed_loop,
    closed_loop_sections,
    funnel_by,
    label_scores,
    lead_funnel,
    wilson_interval,
)
from ops.closed_loop_run import most_logged_model
from tests.conftest import make_export
from training.report import render_report

HORIZON = 30
CUTOFF = pd.Timestamp("2026-04-01")


def _export():
    leads = [
        {"lead_id": lead, "created_at": "2026-01-01", "source": source, "campaign": campaign}
        for lead, source, campaign in (
            ("A", "webinar", "Q1 webinar"),
            ("B", "webinar", "Q1 webinar"),
            ("C", "paid_search", None),
            ("D", "paid_search", None),
            ("E", "referral", None),
            ("F", "referral", None),
        )
    ]

    def won(opp: str, lead: str, opened: str, closed: str) -> dict:
        return {
            "opportunity_id": opp,
            "lead_id": lead,
            "created_at": opened,
            "closed_at": closed,
            "status": "won",
            "amount": 1000.0,
        }

    opportunities = [
        won("O1", "A", "2026-01-20", "2026-02-05"),  # won within the horizon
        won("O2", "B", "2026-01-05", "2026-01-25"),  # opened before the score: not its outcome
        won("O3", "C", "2026-01-20", "2026-03-01"),  # won after the horizon
        won("O5", "E", "2026-03-25", "2026-03-30"),  # won, but the horizon has not passed
        won("O6", "F", "2026-01-25", "2026-02-05"),
    ]
    return make_export(leads, [], opportunities)


def _predictions() -> pd.DataFrame:
    rows = [
        ("A", "2026-01-10", "SQL", 0.6),
        ("B", "2026-01-10", "SQL", 0.5),
        ("C", "2026-01-10", "MQL", 0.2),
        ("D", "2026-01-10", "nurture", 0.05),
        ("D", "2026-01-20", "nurture", 0.04),  # a second nurture score is no new entry
        ("E", "2026-03-20", "MQL", 0.3),
        ("F", "2026-01-10", "nurture", 0.05),
        ("F", "2026-01-15", "MQL", 0.2),
        ("F", "2026-01-18", "SQL", 0.5),
        ("Z", "2026-01-10", "SQL", 0.9),  # not in the export
    ]
    frame = pd.DataFrame(rows, columns=["lead_id", "as_of", "tier", "probability"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["scored_at"] = frame["as_of"] + pd.Timedelta(seconds=1)
    frame["model_name"], frame["model_version"], frame["policy_version"] = "m", "3", "2"
    return frame


def test_outcome_follows_the_training_label_and_censoring() -> None:
    scored = label_scores(_predictions(), _export(), HORIZON, CUTOFF).set_index(
        ["lead_id", "as_of"]
    )
    assert scored.loc[("A", pd.Timestamp("2026-01-10")), "label"] == 1
    assert scored.loc[("B", pd.Timestamp("2026-01-10")), "label"] == 0
    assert scored.loc[("C", pd.Timestamp("2026-01-10")), "label"] == 0
    censored = scored.loc[("E", pd.Timestamp("2026-03-20"))]
    assert bool(censored["censored"]) and censored["label"] == 0 and censored["won_so_far"] == 1
    assert not scored["censored"].drop(("E", pd.Timestamp("2026-03-20"))).any()
    assert scored.loc[("A", pd.Timestamp("2026-01-10")), "source"] == "webinar"
    assert scored.loc[("C", pd.Timestamp("2026-01-10")), "campaign"] == "(missing)"


def test_realized_conversion_per_tier_counts_each_lead_once_per_tier() -> None:
    result = closed_loop(_predictions(), _export(), HORIZON, CUTOFF)
    by_tier = result.by_tier.set_index("tier")
    assert by_tier.loc["SQL", ["leads", "won"]].tolist() == [3, 2]  # A, B, F
    assert by_tier.loc["MQL", ["leads", "won"]].tolist() == [2, 1]  # C, F (E is censored)
    assert by_tier.loc["nurture", ["leads", "won"]].tolist() == [2, 1]  # D once, F
    assert by_tier.loc["MQL", ["censored", "censored_won_so_far"]].tolist() == [1, 1]
    assert by_tier.loc["SQL", "mean_probability"] == pytest.approx((0.6 + 0.5 + 0.5) / 3)
    low, high = by_tier.loc["SQL", ["ci_low", "ci_high"]]
    assert low < 2 / 3 < high
    assert result.unknown_leads == 1 and any("does not hold" in n for n in result.notes)
    figures = result.key_figures()
    assert figures["realized_SQL_conversion"] == pytest.approx(2 / 3)
    assert figures["censored_entries"] == 1


def test_funnel_per_source_from_each_leads_first_score() -> None:
    scored = label_scores(_predictions(), _export(), HORIZON, CUTOFF)
    scored = scored[scored["known_lead"]]
    leads = lead_funnel(scored).set_index("lead_id")
    assert leads.loc["F", ["reached_mql", "reached_sql", "won"]].tolist() == [True, True, 1]
    assert leads.loc["D", ["reached_mql", "reached_sql"]].tolist() == [False, False]
    table = funnel_by(leads.reset_index(), "source").set_index("source")
    assert table.loc["webinar", ["leads", "mql", "sql", "won"]].tolist() == [2, 2, 2, 1]
    # An opportunity opened within the horizon after the first score, won or not: A's and C's
    # (C's closed won after the horizon), not B's (opened before its score).
    assert table.loc["webinar", "opportunity"] == 1
    assert table.loc["paid_search", ["opportunity", "won"]].tolist() == [1, 0]
    assert table.loc["referral", ["leads", "censored"]].tolist() == [1, 1]  # F; E censored
    assert table.loc["webinar", "won_of_sql"] == pytest.approx(0.5)
    pooled = funnel_by(leads.reset_index(), "source", top=1)
    assert set(pooled["source"]) == {"paid_search", "other"} or set(pooled["source"]) == {
        "webinar",
        "other",
    }


def test_wilson_interval_and_most_logged_model() -> None:
    low, high = wilson_interval(pd.Series([5]).to_numpy(), pd.Series([10]).to_numpy())
    assert (low[0], high[0]) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    frame = _predictions()
    frame.loc[:2, "model_version"] = "4"
    assert most_logged_model(frame) == "models:/m/3"


def test_report_sections_render_with_censored_and_tiers() -> None:
    result = closed_loop(_predictions(), _export(), HORIZON, CUTOFF)
    markdown, html = render_report("loop", closed_loop_sections(result, "log.db"))
    assert "Realized conversion per tier" in markdown and "censored" in markdown
    assert "Funnel" in html
