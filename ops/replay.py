"""Fill a prediction log with the scores a model gives an export's open leads at past dates.

What the service would have logged had it scored those leads then: for a demo (so the
closed-loop page has scores whose outcomes the export already holds) or to backfill a log
before the service logged. Features are point-in-time, so a score at a past date uses only
what was known then.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from features.contract import Export
from features.history import LeadHistory
from models.scorer import LeadScorer
from ops.prediction_log import PredictionLog
from training.batch import open_leads

DEFAULT_DAYS_BEFORE = (120, 20)


def replay_scores(
    export: Export,
    scorer: LeadScorer,
    log: PredictionLog,
    *,
    model_name: str,
    model_version: str,
    days_before: Sequence[int] = DEFAULT_DAYS_BEFORE,
    leads_per_date: int | None = None,
) -> int:
    """Score the leads open `days_before` the export's cut-off (the latest `leads_per_date` of
    each date) and log them as scored then; returns the rows logged."""
    logged = 0
    for days in days_before:
        as_of = export.cutoff - pd.Timedelta(days=int(days))
        snapshots = open_leads(export, as_of)
        if leads_per_date is not None:
            snapshots = snapshots.tail(leads_per_date)
        if snapshots.empty:
            continue
        scores = scorer.score(
            LeadHistory(export.leads, export.activities, snapshots), explain=False
        )
        logged += log.append(
            scores,
            model_name=model_name,
            model_version=model_version,
            policy_version=scorer.policy.version,
            scored_at=as_of.to_pydatetime(),
        )
    return logged
