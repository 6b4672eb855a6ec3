"""Leads that answer the question sales asks: SQLs that did not convert, MQLs that did.

Each example is a tier entry of the closed loop (the first score of a lead in a tier) whose
horizon has passed, with the reasons the model gave at that moment: the features are rebuilt
as of the logged `as_of` from the later export (they never look past it), so the reasons are
the ones the service returned, given the same CRM history.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.contract import Export
from features.history import LeadHistory
from models.scorer import LeadScorer
from models.tiers import MQL, SQL
from ops.closed_loop import ClosedLoopResult

# Lead fields that identify a person or a company: shown only to signed-in people, and only
# beside the examples.
CONTACT_FIELDS = ("email_domain", "job_title")
SEGMENT_FIELDS = ("source", "campaign")


@dataclass(frozen=True)
class TierSurprises:
    """The two example tables; each row a lead with its score, tier entry and reasons."""

    sql_not_won: pd.DataFrame
    mql_won: pd.DataFrame


def _pick(entries: pd.DataFrame, tier: str, won: bool, n: int) -> pd.DataFrame:
    mine = entries[(entries["tier"] == tier) & ~entries["censored"]]
    mine = mine[mine["label"] == (1 if won else 0)]
    # SQLs that failed with the highest scores, MQLs that converted with the lowest: the cases
    # that most surprise whoever works the tiers.
    return mine.sort_values("probability", ascending=won, kind="stable").head(n)


def tier_surprises(
    result: ClosedLoopResult,
    export: Export,
    scorer: LeadScorer,
    n: int = 8,
    with_contact: bool = False,
) -> TierSurprises:
    """Up to `n` of each kind, with reasons at scoring time (and contact fields if asked)."""
    picked = {
        "sql_not_won": _pick(result.entries, SQL, won=False, n=n),
        "mql_won": _pick(result.entries, MQL, won=True, n=n),
    }
    tables: dict[str, pd.DataFrame] = {}
    leads = export.leads.set_index("lead_id")
    for key, rows in picked.items():
        table = rows[["lead_id", "as_of", "scored_at", "probability", "tier", *SEGMENT_FIELDS]]
        table = table.reset_index(drop=True)
        if len(table):
            history = LeadHistory(export.leads, export.activities, table[["lead_id", "as_of"]])
            scores = scorer.score(history, explain=True)
            table["reasons_positive"] = scores["reasons_positive"].to_list()
            table["reasons_negative"] = scores["reasons_negative"].to_list()
        else:
            table["reasons_positive"] = pd.Series(dtype=object)
            table["reasons_negative"] = pd.Series(dtype=object)
        if with_contact:
            for column in CONTACT_FIELDS:
                values = table["lead_id"].map(leads[column]) if column in leads else None
                table[column] = values
        tables[key] = table
    return TierSurprises(**tables)
