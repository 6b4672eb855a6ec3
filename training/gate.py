"""The promotion gate: challenger and champion compared only on leads neither was fitted on.

Each registered version records its *data window* (the leads it was fitted on) as registry
tags. The challenger is judged by its evaluated model on its own holdout, which it was not
fitted on; of those leads the gate keeps only the ones outside the champion's window, so the
champion is never scored on leads it learned from either. Too few such leads for a decision
(`GateRule`), or a champion without a recorded window: the gate says so and keeps the
champion unless forced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import log_loss, roc_auc_score

from models.registry import (
    WINDOW_COLUMN_TAG,
    WINDOW_CUTOFF_TAG,
    WINDOW_END_TAG,
    WINDOW_KIND_TAG,
    WINDOW_LEADS_TAG,
    WINDOW_START_TAG,
)

log = logging.getLogger(__name__)

# Export models: leads by `created_at`. Table models: rows by their time column, or, without
# one, by a digest of each fitted row (an artifact of the version's run).
CREATED_AT = "created_at"
TABLE_TIME = "table_time"
TABLE_ROWS = "table_rows"


@dataclass(frozen=True)
class DataWindow:
    """The leads a model version was fitted on: by `kind`, from `start` to `end` inclusive."""

    kind: str
    start: str
    end: str
    leads: int
    cutoff: str = ""  # outcomes observed up to here (export models)
    column: str = ""  # the time column (table models)

    def tags(self) -> dict[str, str]:
        return {
            WINDOW_KIND_TAG: self.kind,
            WINDOW_COLUMN_TAG: self.column,
            WINDOW_START_TAG: self.start,
            WINDOW_END_TAG: self.end,
            WINDOW_CUTOFF_TAG: self.cutoff,
            WINDOW_LEADS_TAG: str(self.leads),
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> DataWindow | None:
        """The recorded window, or None for a version registered before windows were kept."""
        if WINDOW_KIND_TAG not in tags:
            return None
        return cls(
            kind=tags[WINDOW_KIND_TAG],
            start=tags.get(WINDOW_START_TAG, ""),
            end=tags.get(WINDOW_END_TAG, ""),
            leads=int(tags.get(WINDOW_LEADS_TAG, "0") or 0),
            cutoff=tags.get(WINDOW_CUTOFF_TAG, ""),
            column=tags.get(WINDOW_COLUMN_TAG, ""),
        )

    def describe(self) -> str:
        what = f"rows by {self.column!r}" if self.kind == TABLE_TIME else "leads created"
        if self.kind == TABLE_ROWS:
            return f"{self.leads:,} table rows (no time column)"
        return f"{self.leads:,} {what} {self.start} to {self.end}"


def created_window(created_at: pd.Series, cutoff: pd.Timestamp) -> DataWindow:
    """The window of an export model fitted on leads with these creation times."""
    return DataWindow(
        kind=CREATED_AT,
        start=pd.Timestamp(created_at.min()).isoformat(),
        end=pd.Timestamp(created_at.max()).isoformat(),
        leads=int(created_at.size),
        cutoff=pd.Timestamp(cutoff).isoformat(),
    )


@dataclass(frozen=True)
class GateRule:
    """Enough leads for a decision: this many distinct leads and converted leads at least."""

    min_leads: int = 200
    min_converted: int = 20

    def __post_init__(self) -> None:
        if self.min_leads < 1 or self.min_converted < 1:
            raise ValueError("the gate needs at least one lead and one converted lead")


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger replaces the champion, with the numbers it was decided on."""

    promoted: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    metrics: dict[str, float]


@dataclass(frozen=True)
class Holdout:
    """The challenger's holdout: rows (a lead may have several), its honest probabilities, and
    how to tell which rows a champion's window holds and how to score the champion on rows."""

    lead_ids: np.ndarray
    labels: np.ndarray
    probability: np.ndarray
    # True where the row's lead is outside the window; None when this window says nothing
    # about these rows (another kind of model, another time column).
    unseen_by: Callable[[DataWindow, str], np.ndarray | None]
    # The champion (model URI) scored on the rows of a mask.
    score_champion: Callable[[str, np.ndarray], np.ndarray]


def current_champion(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def champion_gate(
    client: MlflowClient,
    name: str,
    alias: str,
    challenger_version: str,
    holdout: Holdout,
    rule: GateRule | None = None,
    force: bool = False,
) -> GateDecision:
    """Promote when there is no champion, or the challenger is no worse by log loss and ROC AUC
    on the holdout leads outside the champion's data window; `force` promotes when no fair
    comparison is possible (never a challenger found worse)."""
    rule = rule or GateRule()
    champion = current_champion(client, name, alias)
    if champion is None:
        return GateDecision(True, "no champion yet", challenger_version, None, {})
    version = client.get_model_version(name, champion)
    window = DataWindow.from_tags(version.tags)
    unseen = None if window is None else holdout.unseen_by(window, version.run_id or "")
    if window is None or unseen is None:
        why = (
            f"champion version {champion} has no recorded data window"
            if window is None
            else f"champion version {champion} was fitted on {window.describe()}, which says "
            "nothing about these leads"
        )
        return _no_fair_comparison(why, challenger_version, champion, {}, force)
    leads = holdout.lead_ids[unseen]
    converted = holdout.lead_ids[unseen & (holdout.labels == 1)]
    counts = {
        "compared_rows": float(unseen.sum()),
        "compared_leads": float(pd.unique(leads).size),
        "compared_converted_leads": float(pd.unique(converted).size),
    }
    if counts["compared_leads"] < rule.min_leads or (
        counts["compared_converted_leads"] < rule.min_converted
    ):
        why = (
            f"only {counts['compared_leads']:.0f} holdout leads "
            f"({counts['compared_converted_leads']:.0f} converted) are outside champion version "
            f"{champion}'s data window ({window.describe()}); a decision needs "
            f"{rule.min_leads} leads and {rule.min_converted} converted"
        )
        return _no_fair_comparison(why, challenger_version, champion, counts, force)
    labels = holdout.labels[unseen]
    challenger_p = holdout.probability[unseen]
    champion_p = holdout.score_champion(f"models:/{name}/{champion}", unseen)
    metrics = {
        **counts,
        "challenger_log_loss": float(log_loss(labels, challenger_p, labels=[0, 1])),
        "champion_log_loss": float(log_loss(labels, champion_p, labels=[0, 1])),
        "challenger_roc_auc": float(roc_auc_score(labels, challenger_p)),
        "champion_roc_auc": float(roc_auc_score(labels, champion_p)),
    }
    better_loss = metrics["challenger_log_loss"] <= metrics["champion_log_loss"]
    better_auc = metrics["challenger_roc_auc"] >= metrics["champion_roc_auc"]
    promoted = better_loss and better_auc
    on = f"on {counts['compared_leads']:.0f} leads neither model was fitted on"
    reason = (
        f"challenger is not worse by log loss and ROC AUC {on}"
        if promoted
        else "challenger is worse by "
        + " and ".join(
            m for m, ok in (("log loss", better_loss), ("ROC AUC", better_auc)) if not ok
        )
        + f" {on}"
    )
    return GateDecision(promoted, reason, challenger_version, champion, metrics)


def _no_fair_comparison(
    why: str, challenger: str, champion: str, metrics: dict[str, float], force: bool
) -> GateDecision:
    if force:
        return GateDecision(True, f"forced: {why}", challenger, champion, metrics)
    return GateDecision(
        False,
        f"no fair comparison, champion kept: {why} (--force to promote anyway)",
        challenger,
        champion,
        metrics,
    )
