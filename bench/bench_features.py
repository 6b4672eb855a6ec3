"""Feature building: fit, the cut-off batch, a training-sized batch and one lead alone."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd
from common import Check, Context, Section, at_most, time_runs

from features.build import LeadFeaturizer
from features.history import LeadHistory
from training.labels import build_snapshots

CUTOFF_TARGET_S = 10.0  # issue 2, section 5: 50,000 leads x 1 snapshot in under 10 s


def _one_lead(history: LeadHistory, lead_id: str, as_of: pd.Timestamp) -> LeadHistory:
    """The history of one lead alone, as an online request carries it."""
    leads = history.leads[history.leads["lead_id"] == lead_id].reset_index(drop=True)
    activities = history.activities[history.activities["lead_id"] == lead_id]
    return LeadHistory.at(leads, activities.reset_index(drop=True), as_of)


def _latency_ms(featurizer: LeadFeaturizer, one: LeadHistory, n: int) -> tuple[float, float]:
    """Median and 95th percentile of single-lead transform times, after a warm-up."""
    for _ in range(5):
        featurizer.transform(one)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        featurizer.transform(one)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), 1e3 * float(np.percentile(times, 95))


def run(ctx: Context, repeat: int = 3, single_lead_runs: int = 200) -> Section:
    section = Section("features", "Feature building")
    config = ctx.config
    export = ctx.world.export
    as_of = config.as_of

    snapshots = build_snapshots(export, as_of - pd.Timedelta(days=config.horizon_days))
    training_history = LeadHistory(export.leads, export.activities, snapshots[["lead_id", "as_of"]])
    fitted, featurizer = time_runs(lambda: LeadFeaturizer().fit(training_history))
    n_features = len(featurizer.feature_names_out_)

    cutoff_history = LeadHistory.at(export.leads, export.activities, as_of)
    n_leads = len(export.leads)
    n_activities = int((export.activities["occurred_at"] < as_of).sum())
    cutoff, features = time_runs(lambda: featurizer.transform(cutoff_history), repeat)
    assert len(features) == n_leads
    training, _ = time_runs(lambda: featurizer.transform(training_history), repeat)
    n_snapshots = len(snapshots)

    per_lead = export.activities.groupby("lead_id").size()
    open_leads = ctx.world.truth["lead_id"]
    counts = per_lead.reindex(open_leads, fill_value=0).sort_values(kind="stable")
    typical = str(counts.index[len(counts) // 2])
    heavy = str(counts.index[int(0.99 * (len(counts) - 1))])
    typical_ms = _latency_ms(
        featurizer, _one_lead(cutoff_history, typical, as_of), single_lead_runs
    )
    heavy_ms = _latency_ms(featurizer, _one_lead(cutoff_history, heavy, as_of), single_lead_runs)

    section.add(
        Check(
            "features",
            f"{n_leads:,} leads x 1 snapshot at the cut-off",
            cutoff.best,
            "s",
            f"< {CUTOFF_TARGET_S:.0f} s",
            at_most(cutoff.best, CUTOFF_TARGET_S),
        )
    )
    section.add(
        Check(
            "features", "  cut-off batch: lead-snapshots/s", n_leads / cutoff.best, "/s", digits=0
        )
    )
    section.add(
        Check(
            "features",
            "  cut-off batch: activities/s",
            n_activities / cutoff.best,
            "/s",
            digits=0,
        )
    )
    section.add(
        Check(
            "features",
            f"training-sized: {n_snapshots:,} snapshots",
            training.best,
            "s",
        )
    )
    section.add(Check("features", "one lead (typical), median", typical_ms[0], "ms", digits=1))

    section.table(
        ["build", "rows", "activities read", "wall time", "lead-snapshots/s", "activities/s"],
        [
            [
                "fit (training snapshots)",
                f"{n_snapshots:,}",
                f"{len(export.activities):,}",
                fitted.describe(),
                "",
                "",
            ],
            [
                "transform: every lead at the cut-off",
                f"{n_leads:,}",
                f"{n_activities:,}",
                cutoff.describe(),
                f"{n_leads / cutoff.best:,.0f}",
                f"{n_activities / cutoff.best:,.0f}",
            ],
            [
                "transform: training snapshots (`build_snapshots`, default scheme)",
                f"{n_snapshots:,}",
                f"{len(export.activities):,}",
                training.describe(),
                f"{n_snapshots / training.best:,.0f}",
                "",
            ],
        ],
    )
    section.lines.append(f"{n_features} features per row.")
    section.lines.append("")
    section.table(
        ["one lead alone (online scoring)", "activities", "median", "p95"],
        [
            [
                "typical open lead (median activity count of truth.csv leads)",
                f"{int(counts[typical])}",
                f"{typical_ms[0]:.1f} ms",
                f"{typical_ms[1]:.1f} ms",
            ],
            [
                "busy open lead (99th percentile)",
                f"{int(counts[heavy])}",
                f"{heavy_ms[0]:.1f} ms",
                f"{heavy_ms[1]:.1f} ms",
            ],
        ],
    )
    section.lines.append(
        f"Single-lead figures: median and p95 of {single_lead_runs} `transform` calls on a "
        "LeadHistory holding only that lead, after 5 warm-up calls."
    )
    section.lines.append("")
    return section
