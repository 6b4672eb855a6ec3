"""The closed loop: the scores the service gave, joined with what happened in a later export.

Definitions (docs/marketing-ops.md says the same in prose):
- Outcome of a logged score: 1 when the lead has an opportunity created at or after the score's
  `as_of` that closes won within `horizon_days` after it (the training label). A score whose
  horizon has not fully passed by the export's cut-off is *censored*: its outcome is not known
  yet, so it is left out of every rate and shown apart (with the wins seen so far).
- Tier entries: the first score of each lead in each tier (a lead that went nurture -> MQL ->
  SQL has three). "Leads handed over as SQL" are the SQL entries, and the realized conversion
  of a tier is the share of its entries won within the horizon after entering it. Each entry
  is taken at a moment decided by what was known then, so the served probability at that
  moment should match the outcome: calibration and deciles are computed over entries.
- Funnel per lead, from its first score: reached MQL (scored MQL or SQL at least once), reached
  SQL, got an opportunity and won within the horizon after its first score; leads whose first
  score is censored are counted apart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import Export
from models.tiers import MQL, NURTURE, SQL, TIERS
from ops.drift import DriftReport
from training.labels import label_snapshots
from training.metrics import decile_table, expected_calibration_error
from training.plots import plot_calibration, plot_lift_by_decile
from training.report import ReportSection

log = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
Z95 = 1.959963984540054
TIER_RANK = {NURTURE: 0, MQL: 1, SQL: 2}
SEGMENTS = ("source", "campaign")
MISSING_SEGMENT = "(missing)"
OTHER_SEGMENT = "other"


def wilson_interval(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a binomial rate (NaN where there are no trials)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
        denominator = 1 + Z95**2 / n
        centre = (rate + Z95**2 / (2 * n)) / denominator
        half = Z95 * np.sqrt(rate * (1 - rate) / n + Z95**2 / (4 * n**2)) / denominator
    return centre - half, centre + half


def label_scores(
    predictions: pd.DataFrame,
    export: Export,
    horizon_days: int,
    cutoff: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Logged scores with `label`, `censored`, `won_so_far`, and the lead's source and campaign."""
    cutoff = export.cutoff if cutoff is None else cutoff
    scored = predictions.reset_index(drop=True).copy()
    scored["label"] = label_snapshots(scored[["lead_id", "as_of"]], export, horizon_days)
    scored["censored"] = (scored["as_of"] + horizon_days * DAY) > cutoff
    # For censored scores only the wins already seen are known; never count them as losses.
    scored["won_so_far"] = scored["label"].where(scored["censored"], 0)
    scored["label"] = scored["label"].where(~scored["censored"], 0)
    scored["opportunity"] = _opened_within(scored, export, horizon_days) & ~scored["censored"]
    leads = export.leads.set_index("lead_id")
    for column in SEGMENTS:
        values = scored["lead_id"].map(leads[column]) if column in leads else np.nan
        scored[column] = pd.Series(values, index=scored.index, dtype=object).fillna(MISSING_SEGMENT)
    scored["known_lead"] = scored["lead_id"].isin(leads.index)
    return scored


def _opened_within(scored: pd.DataFrame, export: Export, horizon_days: int) -> np.ndarray:
    """True where the lead got an opportunity (any status) within the horizon after as_of."""
    opened = np.zeros(len(scored), dtype=bool)
    opportunities = export.opportunities[["lead_id", "created_at"]]
    if opportunities.empty or scored.empty:
        return opened
    pairs = scored[["lead_id", "as_of"]].reset_index(names="row").merge(opportunities, on="lead_id")
    hit = (pairs["created_at"] >= pairs["as_of"]) & (
        pairs["created_at"] <= pairs["as_of"] + horizon_days * DAY
    )
    opened[pairs.loc[hit, "row"].unique()] = True
    return opened


def tier_entries(scored: pd.DataFrame) -> pd.DataFrame:
    """The first score of each lead in each tier (earliest as_of, then earliest scored_at)."""
    ordered = scored.sort_values(["as_of", "scored_at"], kind="stable")
    return ordered.drop_duplicates(["lead_id", "tier"], keep="first").reset_index(drop=True)


def realized_by_tier(entries: pd.DataFrame) -> pd.DataFrame:
    """Per tier: entries, realized conversion with its 95 % interval, mean served probability."""
    rows = []
    for tier in TIERS:
        mine = entries[entries["tier"] == tier]
        observed = mine[~mine["censored"]]
        n, won = len(observed), int(observed["label"].sum())
        low, high = wilson_interval(np.array([won]), np.array([n]))
        rows.append(
            {
                "tier": tier,
                "leads": n,
                "won": won,
                "conversion_rate": won / n if n else np.nan,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "mean_probability": float(observed["probability"].mean()) if n else np.nan,
                "censored": int(mine["censored"].sum()),
                "censored_won_so_far": int(mine["won_so_far"].sum()),
            }
        )
    return pd.DataFrame(rows)


def lead_funnel(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per lead: first score, segments, best tier reached, won after the first score."""
    ordered = scored.sort_values(["as_of", "scored_at"], kind="stable")
    first = ordered.drop_duplicates("lead_id", keep="first").set_index("lead_id")
    best = ordered["tier"].map(TIER_RANK).groupby(ordered["lead_id"]).max()
    funnel = first[["as_of", "censored", "label", "won_so_far", "opportunity", *SEGMENTS]].copy()
    funnel["reached_mql"] = best.reindex(funnel.index) >= TIER_RANK[MQL]
    funnel["reached_sql"] = best.reindex(funnel.index) >= TIER_RANK[SQL]
    return funnel.rename(columns={"label": "won"}).reset_index()


def funnel_by(leads: pd.DataFrame, column: str, top: int = 12) -> pd.DataFrame:
    """MQL, SQL, opportunity, won per segment (the `top` largest; the rest pooled as "other")."""
    observed = leads[~leads["censored"]].copy()
    sizes = observed[column].value_counts()
    keep = set(sizes.index[:top])
    observed[column] = observed[column].where(observed[column].isin(keep), OTHER_SEGMENT)
    censored = leads[leads["censored"]].copy()
    censored[column] = censored[column].where(censored[column].isin(keep), OTHER_SEGMENT)
    grouped = observed.groupby(column, sort=False).agg(
        leads=("lead_id", "size"),
        mql=("reached_mql", "sum"),
        sql=("reached_sql", "sum"),
        opportunity=("opportunity", "sum"),
        won=("won", "sum"),
    )
    table = grouped.sort_values("leads", ascending=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mql_rate"] = table["mql"] / table["leads"]
        table["sql_of_mql"] = table["sql"] / table["mql"]
        won_as_sql = observed[observed["reached_sql"]].groupby(column)["won"].sum()
        table["won_of_sql"] = won_as_sql.reindex(table.index, fill_value=0) / table["sql"]
        table["won_rate"] = table["won"] / table["leads"]
    table["censored"] = censored[column].value_counts().reindex(table.index, fill_value=0)
    return table.reset_index()


def weekly_entries(entries: pd.DataFrame, weeks: int = 12) -> pd.DataFrame:
    """Leads entering each tier per week of scoring (the last `weeks` weeks)."""
    week = entries["scored_at"].dt.to_period("W-SUN").dt.start_time
    table = pd.crosstab(week, entries["tier"]).reindex(columns=list(TIERS), fill_value=0)
    table.index.name = "week_starting"
    return table.tail(weeks).reset_index()


@dataclass(frozen=True)
class ClosedLoopResult:
    """The joined scores and every table of the closed-loop report."""

    scored: pd.DataFrame
    entries: pd.DataFrame
    by_tier: pd.DataFrame
    deciles: pd.DataFrame
    funnel: dict[str, pd.DataFrame]
    weekly: pd.DataFrame
    ece: float
    unknown_leads: int
    cutoff: pd.Timestamp
    horizon_days: int
    drift: DriftReport | None = None
    notes: list[str] = field(default_factory=list)

    def key_figures(self) -> dict[str, float]:
        """Numbers for the console and MLflow: realized conversion per tier, ECE, counts."""
        figures: dict[str, float] = {
            "scores": float(len(self.scored)),
            "leads": float(self.scored["lead_id"].nunique()),
            "censored_entries": float(self.entries["censored"].sum()),
            "calibration_ece": self.ece,
        }
        for row in self.by_tier.to_dict(orient="records"):
            tier = row["tier"]
            figures[f"realized_{tier}_conversion"] = float(row["conversion_rate"])
            figures[f"served_{tier}_probability"] = float(row["mean_probability"])
            figures[f"realized_{tier}_leads"] = float(row["leads"])
        return figures


def closed_loop(
    predictions: pd.DataFrame,
    export: Export,
    horizon_days: int = 90,
    cutoff: pd.Timestamp | None = None,
    top_segments: int = 12,
    drift: DriftReport | None = None,
) -> ClosedLoopResult:
    """Join logged scores with a later export's outcomes; every table of the report."""
    if predictions.empty:
        raise ValueError("the prediction log holds no scores")
    cutoff = export.cutoff if cutoff is None else cutoff
    scored_all = label_scores(predictions, export, horizon_days, cutoff)
    unknown = int((~scored_all["known_lead"]).sum())
    scored = scored_all[scored_all["known_lead"]].reset_index(drop=True)
    notes = []
    if unknown:
        notes.append(
            f"{unknown:,} logged scores are of leads the export does not hold; they are left out."
        )
    if scored.empty:
        raise ValueError("none of the logged leads are in the export")
    entries = tier_entries(scored)
    observed = entries[~entries["censored"]]
    if len(observed) and observed["label"].nunique() > 1:
        y, p = observed["label"].to_numpy(), observed["probability"].to_numpy()
        deciles = decile_table(y, p)
        ece = expected_calibration_error(y, p)
    else:
        deciles = pd.DataFrame()
        ece = float("nan")
        notes.append("Too few uncensored outcomes (or only one kind) for calibration and deciles.")
    leads = lead_funnel(scored)
    return ClosedLoopResult(
        scored=scored,
        entries=entries,
        by_tier=realized_by_tier(entries),
        deciles=deciles,
        funnel={column: funnel_by(leads, column, top_segments) for column in SEGMENTS},
        weekly=weekly_entries(entries),
        ece=ece,
        unknown_leads=unknown,
        cutoff=cutoff,
        horizon_days=horizon_days,
        drift=drift,
        notes=notes,
    )


def closed_loop_sections(result: ClosedLoopResult, source: str) -> list[ReportSection]:
    """The report page: realized vs served per tier, calibration, deciles, funnel, drift."""
    entries = result.entries
    observed = entries[~entries["censored"]]
    first, last = result.scored["scored_at"].min(), result.scored["scored_at"].max()
    summary = (
        f"{len(result.scored):,} logged scores of {result.scored['lead_id'].nunique():,} leads "
        f"from {source}, scored {first:%Y-%m-%d} to {last:%Y-%m-%d}; outcomes from the export "
        f"with cut-off {result.cutoff:%Y-%m-%d} and a {result.horizon_days}-day horizon. "
        f"{int(entries['censored'].sum()):,} tier entries are censored (horizon not passed yet): "
        "they are shown apart and never counted as losses.\n\n"
        "Realized conversion per tier: of the leads that entered the tier, the share won "
        "within the horizon after entering it (95 % Wilson interval), beside the probability "
        "the service gave them."
    )
    if result.notes:
        summary += "\n\n" + " ".join(result.notes)
    sections = [
        ReportSection(
            heading="Did the tiers convert?",
            text=summary,
            tables=[
                ("Realized conversion per tier", result.by_tier),
                ("Leads entering each tier per week", result.weekly),
            ],
        )
    ]
    figures = []
    if len(observed) and not result.deciles.empty:
        curves = {"served": (observed["label"].to_numpy(), observed["probability"].to_numpy())}
        figures = [
            ("Calibration of served probabilities", plot_calibration(curves)),
            ("Lift by decile of served probability", plot_lift_by_decile(curves)),
        ]
    sections.append(
        ReportSection(
            heading="Calibration and deciles",
            text=f"Expected calibration error of the served probabilities: {result.ece:.4f}.",
            tables=[("Realized conversion per decile (1 = highest)", result.deciles)]
            if not result.deciles.empty
            else [],
            figures=figures,
        )
    )
    sections.append(
        ReportSection(
            heading="Funnel: MQL -> SQL -> opportunity -> won",
            text=(
                "Per lead from its first score: reached MQL (MQL or SQL at least once), reached "
                "SQL, won within the horizon after the first score. Censored leads are counted "
                "apart."
            ),
            tables=[(f"By {column}", table) for column, table in result.funnel.items()],
        )
    )
    if result.drift is not None:
        sections.append(drift_section(result.drift))
    return sections


def drift_section(drift: DriftReport, top: int = 25) -> ReportSection:
    flagged = drift.flagged
    text = (
        f"Population stability index (PSI) between the training cohort ({drift.n_reference:,} "
        f"snapshots) and recently scored leads ({drift.n_current:,}). Flag at PSI > "
        f"{drift.threshold:g}: {len(flagged)} flagged"
        + (
            f" ({', '.join(flagged[:10])}{', ...' if len(flagged) > 10 else ''})."
            if flagged
            else "."
        )
    )
    return ReportSection(
        heading="Drift",
        text=text,
        tables=[(f"PSI, score first, then the {top} largest", drift.table.head(top + 1))],
    )


def summary_lines(result: ClosedLoopResult) -> Sequence[str]:
    """Key figures for the console."""
    lines = []
    for row in result.by_tier.to_dict(orient="records"):
        if row["leads"]:
            lines.append(
                f"{row['tier']}: {row['leads']:,} leads, realized {row['conversion_rate']:.2%} "
                f"[{row['ci_low']:.2%}, {row['ci_high']:.2%}] vs served "
                f"{row['mean_probability']:.2%}; censored {row['censored']:,} "
                f"({row['censored_won_so_far']:,} won so far)"
            )
        else:
            lines.append(f"{row['tier']}: no uncensored leads (censored {row['censored']:,})")
    lines.append(f"Calibration ECE {result.ece:.4f}")
    if result.drift is not None:
        drift = result.drift
        lines.append(
            f"Score PSI {drift.score_psi:.3f}; {len(drift.flagged)} of {len(drift.table)} "
            f"quantities over {drift.threshold:g}"
        )
    return lines
