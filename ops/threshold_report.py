"""The thresholds report page: chosen thresholds and targets, tiers, trade-offs, candidates."""

from __future__ import annotations

import pandas as pd

from models.tiers import TierPolicy
from ops.evaluation_set import EvaluationSet, tier_figures
from ops.targets import ThresholdChoice, candidate_table
from ops.threshold_plots import plot_gains_with_cutoffs, plot_threshold_tradeoffs
from training.plots import plot_calibration
from training.report import ReportSection


def threshold_report(
    data: EvaluationSet,
    curve: pd.DataFrame,
    choice: ThresholdChoice,
    policy: TierPolicy,
    model: str,
) -> list[ReportSection]:
    """The report page: targets and outcomes, tiers, trade-off plots, candidate thresholds."""
    outcome_lines = [f"- {o.describe()}" for o in choice.outcomes] or [
        "- no targets given: the current thresholds are shown"
    ]
    summary = (
        f"Model {model}; evaluated on {data.source} ({data.n_leads:,.0f} leads, overall "
        f"conversion {data.base_rate:.2%}). Lead inflow {data.leads_per_week:,.1f} per week "
        f"({data.inflow_source}).\n\n"
        f"**SQL threshold {policy.sql_threshold:.4f}, MQL threshold {policy.mql_threshold:.4f}.**"
        "\n\n" + "\n".join(outcome_lines)
    )
    if choice.notes:
        summary += "\n\n" + " ".join(choice.notes)
    return [
        ReportSection(
            heading="Chosen thresholds",
            text=summary,
            tables=[("Tiers with these thresholds", tier_figures(data, policy))],
        ),
        ReportSection(
            heading="Trade-offs",
            text=(
                "Every lead of the evaluation period counts once. Leads per week = inflow x "
                "share above the threshold; precision = conversion rate above it; recall = "
                "share of all conversions above it. Red lines: the chosen cut-offs."
            ),
            figures=[
                (
                    "Precision, recall and volume against the threshold",
                    plot_threshold_tradeoffs(curve, policy),
                ),
                ("Cumulative gains with the tiers marked", plot_gains_with_cutoffs(data, policy)),
                (
                    "Calibration: predicted against observed conversion",
                    plot_calibration({"model": (data.label, data.probability)}),
                ),
            ],
        ),
        ReportSection(
            heading="Candidate thresholds",
            text="Rows at round shares of leads; `chosen` marks the SQL and MQL cut-offs.",
            tables=[("Candidate thresholds", candidate_table(curve, choice))],
        ),
    ]
