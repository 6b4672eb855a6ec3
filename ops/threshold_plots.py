"""Threshold plots: the trade-off of a threshold and the gains with the tiers marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models.tiers import MQL, SQL, TierPolicy, assign_tier
from ops.evaluation_set import EvaluationSet
from training.plots import REFERENCE_COLOR, new_figure, plot_cumulative_gains

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_threshold_tradeoffs(curve: pd.DataFrame, policy: TierPolicy) -> Figure:
    """Precision, recall (left) and leads per week (right) by threshold, cut-offs marked."""
    fig = new_figure(8.0, 4.8)
    ax = fig.subplots()
    t = curve["threshold"].to_numpy()
    upper = float(max(np.quantile(t, 0.995), policy.sql_threshold * 1.15, 1e-6))
    ax.plot(t, curve["precision"], label="precision (conversion rate above)", linewidth=1.6)
    ax.plot(t, curve["recall"], label="recall (share of conversions above)", linewidth=1.6)
    ax.set(
        xlim=(0, min(1.0, upper)),
        ylim=(0, 1.02),
        xlabel="probability threshold",
        ylabel="precision / recall",
        title="What a threshold does: precision, recall and volume",
    )
    volume = ax.twinx()
    volume.plot(
        t, curve["leads_per_week"], color="#2ca02c", linewidth=1.6, label="leads per week above"
    )
    volume.set_ylabel("leads per week above the threshold")
    volume.set_ylim(0, float(curve["leads_per_week"].max()) * 1.05)
    for value, tier, style in ((policy.sql_threshold, SQL, "-"), (policy.mql_threshold, MQL, "--")):
        ax.axvline(value, color="#d62728", linestyle=style, linewidth=1.2)
        ax.annotate(
            f"{tier} {value:.3f}",
            (value, 1.0),
            textcoords="offset points",
            xytext=(4, -12),
            color="#d62728",
            fontsize=9,
        )
    lines = ax.get_lines()[:2] + volume.get_lines()
    ax.legend(
        lines,
        [str(line.get_label()) for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        frameon=False,
    )
    ax.grid(True, color="0.9", linewidth=0.8)
    return fig


def plot_gains_with_cutoffs(data: EvaluationSet, policy: TierPolicy) -> Figure:
    """Cumulative gains of the model, with the SQL and MQL-or-better shares marked."""
    fig = plot_cumulative_gains({"model": (data.label, data.probability)})
    ax = fig.axes[0]
    tiers = assign_tier(data.probability, policy)
    sql_share = float((tiers == SQL).mean())
    mql_share = float(((tiers == SQL) | (tiers == MQL)).mean())
    for share, label, style in ((sql_share, SQL, "-"), (mql_share, f"{MQL} or above", "--")):
        ax.axvline(share, color="#d62728", linestyle=style, linewidth=1.1)
        ax.annotate(
            label,
            (share, 0.05),
            textcoords="offset points",
            xytext=(4, 0),
            color="#d62728",
            fontsize=9,
        )
    ax.axhline(0, color=REFERENCE_COLOR, linewidth=0.5)
    return fig
