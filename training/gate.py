"""The promotion gate: challenger and champion compared on equal information, on leads neither
was fitted on.

Each registered version records its *data window* (the leads it was fitted on, the cut-off its
outcomes were read at) as registry tags. The champion served is a refit of an earlier export;
judging the challenger by its evaluated model (fitted only before its own holdout) would pit
older outcomes against newer ones. So where the champion's cut-off is earlier, the challenger's
recipe is fitted once more on its export as it stood at that cut-off (`Holdout.refit_as_of`),
and that fit is compared with the champion on the challenger's holdout leads created after
both windows. Two fits of one recipe on the same information differ only by noise, so the
rule (`GateRule`) is a tie rule: a paired bootstrap of the differences, drawing whole leads,
and the challenger, whose served refit has the newer data, is promoted unless it is worse
beyond the interval. Too few such leads, or a champion without a recorded window: the gate
says so and keeps the champion unless forced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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
from training.evaluate import MetricValue, paired_differences
from training.metrics import LOWER_IS_BETTER

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
    """Enough leads for a decision (this many distinct leads and converted leads at least), and
    the tie rule's paired bootstrap: `n_bootstrap` resamples of whole leads."""

    min_leads: int = 200
    min_converted: int = 20
    n_bootstrap: int = 1_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_leads < 1 or self.min_converted < 1:
            raise ValueError("the gate needs at least one lead and one converted lead")
        if self.n_bootstrap < 100:
            raise ValueError("the gate's interval needs at least 100 bootstrap resamples")

    def describe(self) -> str:
        return (
            f"at least {self.min_leads} leads and {self.min_converted} converted ones outside "
            "the windows; then promoted unless worse by log loss or ROC AUC beyond the 95 % "
            f"interval of a paired bootstrap ({self.n_bootstrap} resamples of whole leads)"
        )


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger replaces the champion, with the numbers it was decided on and
    what was compared (`details`, text logged as `gate_*` tags)."""

    promoted: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    metrics: dict[str, float]
    details: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """The gate report: everything the decision was made of, for the run's artifacts."""
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            **self.details,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class RecipeFit:
    """The challenger's recipe fitted as of an earlier cut-off: the leads it was fitted on, its
    probabilities on the holdout rows of a mask, and the seconds the fit took."""

    window: DataWindow
    probability: Callable[[np.ndarray], np.ndarray]
    seconds: float


@dataclass(frozen=True)
class Holdout:
    """The challenger's holdout: rows (a lead may have several), its honest probabilities, and
    how to tell which rows a champion's window holds and how to score the champion on rows."""

    lead_ids: np.ndarray
    labels: np.ndarray
    probability: np.ndarray  # the evaluated model's (fitted on the cohorts before the holdout)
    # True where the row's lead is outside the window; None when this window says nothing
    # about these rows (another kind of model, another time column).
    unseen_by: Callable[[DataWindow, str], np.ndarray | None]
    # The champion (model URI) scored on the rows of a mask.
    score_champion: Callable[[str, np.ndarray], np.ndarray]
    # The challenger's recipe fitted on its data as it stood at a cut-off (None when that
    # cut-off is not earlier than its own). Absent: the recipe is not refitted (table models).
    refit_as_of: Callable[[pd.Timestamp], RecipeFit | None] | None = None


# The gate's metrics as people read them (log loss: lower is better; ROC AUC: higher).
GATE_METRICS = {"log_loss": "log loss", "roc_auc": "ROC AUC"}
EVALUATED = "the challenger's evaluated model (fitted on the cohorts before its holdout)"


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
    """Promote when there is no champion, or when the challenger, judged on the information the
    champion had, is not worse beyond the interval on holdout leads neither model was fitted
    on; `force` promotes when no fair comparison is possible (never a challenger found worse)."""
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
    counts = _counts(holdout, unseen)
    outside = f"outside champion version {champion}'s data window ({window.describe()})"
    if _too_few(counts, rule):
        why = _too_few_text(counts, outside, rule)
        return _no_fair_comparison(why, challenger_version, champion, counts, force)

    # Only with enough unseen leads, and only against an earlier cut-off, is the recipe refitted.
    challenger_p = holdout.probability[unseen]
    compared, extra = EVALUATED, {}
    if holdout.refit_as_of is not None and window.kind == CREATED_AT and window.cutoff:
        cutoff = pd.Timestamp(window.cutoff)
        try:
            fit = holdout.refit_as_of(cutoff)
        except ValueError as error:
            why = f"the challenger's recipe could not be fitted as of {cutoff:%Y-%m-%d}: {error}"
            return _no_fair_comparison(why, challenger_version, champion, counts, force)
        if fit is not None:
            refit_unseen = holdout.unseen_by(fit.window, "")
            unseen = unseen if refit_unseen is None else unseen & refit_unseen
            counts = _counts(holdout, unseen)
            extra = {"refit_seconds": fit.seconds, "refit_leads": float(fit.window.leads)}
            if _too_few(counts, rule):
                outside += f" and the refit's ({fit.window.describe()})"
                why = _too_few_text(counts, outside, rule)
                return _no_fair_comparison(why, challenger_version, champion, counts | extra, force)
            compared = (
                f"the challenger's recipe refitted on its export as it stood at champion "
                f"version {champion}'s cut-off {cutoff:%Y-%m-%d %H:%M} "
                f"({fit.window.describe()})"
            )
            # What the gate decided on before it refitted: the record, not the decision.
            extra |= _figures("evaluated", holdout.labels[unseen], holdout.probability[unseen])
            challenger_p = fit.probability(unseen)
    labels = holdout.labels[unseen]
    champion_p = holdout.score_champion(f"models:/{name}/{champion}", unseen)
    differences = paired_differences(
        labels,
        challenger_p,
        champion_p,
        holdout.lead_ids[unseen],
        GATE_METRICS,
        n_bootstrap=rule.n_bootstrap,
        seed=rule.seed,
    )
    metrics = {
        **counts,
        **_figures("challenger", labels, challenger_p),
        **_figures("champion", labels, champion_p),
        **extra,
    }
    for metric, difference in differences.items():
        metrics[f"{metric}_difference"] = difference.value
        if difference.low is not None and difference.high is not None:
            metrics[f"{metric}_difference_low"] = difference.low
            metrics[f"{metric}_difference_high"] = difference.high
    shown = ", ".join(f"{GATE_METRICS[m]} {_interval_text(d)}" for m, d in differences.items())
    worse = [GATE_METRICS[m] for m, d in differences.items() if _worse_beyond_interval(m, d)]
    on = (
        f"on {counts['compared_leads']:.0f} holdout leads "
        f"({counts['compared_converted_leads']:.0f} converted) neither model was fitted on"
    )
    if worse:
        reason = (
            f"challenger is worse by {' and '.join(worse)} beyond the 95 % interval {on} "
            f"(challenger minus champion: {shown})"
        )
    else:
        reason = (
            f"challenger is not worse beyond the 95 % interval {on} (challenger minus "
            f"champion: {shown}); a tie goes to the challenger, whose served model has the "
            "newer data"
        )
    details = {"compared": compared, "rule": rule.describe()}
    return GateDecision(not worse, reason, challenger_version, champion, metrics, details)


def _worse_beyond_interval(metric: str, difference: MetricValue) -> bool:
    """Challenger minus champion: worse when the whole interval is on the worse side of 0."""
    if difference.low is None or difference.high is None:
        return False
    return difference.low > 0 if metric in LOWER_IS_BETTER else difference.high < 0


def _interval_text(difference: MetricValue) -> str:
    if difference.low is None or difference.high is None:
        return f"{difference.value:+.4f} (no interval)"
    return f"{difference.value:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}]"


def _figures(who: str, labels: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        f"{who}_log_loss": float(log_loss(labels, p, labels=[0, 1])),
        f"{who}_roc_auc": float(roc_auc_score(labels, p)),
    }


def _counts(holdout: Holdout, unseen: np.ndarray) -> dict[str, float]:
    leads = holdout.lead_ids[unseen]
    converted = holdout.lead_ids[unseen & (holdout.labels == 1)]
    return {
        "compared_rows": float(unseen.sum()),
        "compared_leads": float(pd.unique(leads).size),
        "compared_converted_leads": float(pd.unique(converted).size),
    }


def _too_few(counts: dict[str, float], rule: GateRule) -> bool:
    return (
        counts["compared_leads"] < rule.min_leads
        or counts["compared_converted_leads"] < rule.min_converted
    )


def _too_few_text(counts: dict[str, float], outside: str, rule: GateRule) -> str:
    return (
        f"only {counts['compared_leads']:.0f} holdout leads "
        f"({counts['compared_converted_leads']:.0f} converted) are {outside}; a decision "
        f"needs {rule.min_leads} leads and {rule.min_converted} converted"
    )


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
