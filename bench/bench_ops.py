"""Marketing ops on the demo world: thresholds against capacity, and the closed loop vs truth.

1. Capacity. SQL thresholds are chosen for several weekly capacities, then measured on a later
   export of the same world: exported a horizon after its cut-off (the simulated journeys run to
   as_of + horizon), whose latest fully observed period holds leads created after the holdout's.
   Same definition of leads per week (docs/marketing-ops.md: each lead counts once, per week =
   lead inflow x share above). `generate_demo_world` with the same seed and a later `as_of` is
   the same world shifted in time (campaign names aside), so it cannot test a forecast. Plans:
   on the holdout with its own or the recent inflow, serving the evaluated model (`--no-refit`)
   or the default refitted one, and `--data` on the training export.
2. Closed loop. Every truth.csv lead is scored at the cut-off and logged in a prediction log
   (SQLite); the same world is then exported again a horizon later (the simulated journeys
   already run to as_of + horizon), and `closed_loop` joins outcomes to the logged scores.
   Realized conversion per tier is compared with the mean `p_true` of the tier's leads: the
   target is that each mean lies within the tier's 95 % interval.

    uv run --frozen python bench/bench_ops.py --leads 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from common import Check, Context, Section, at_most

from demo.world import (
    build_export,
    lead_covariates,
    sample_leads,
    simulate_journeys,
)
from features.contract import Export
from features.history import LeadHistory
from models.registry import DEFAULT_MODEL_NAME
from models.scorer import LeadScorer
from models.tiers import TIERS
from ops.closed_loop import closed_loop
from ops.drift import feature_drift
from ops.evaluation_set import (
    EvaluationSet,
    export_evaluation_set,
    holdout_evaluation_set,
    tier_figures,
)
from ops.prediction_log import PredictionLog, sqlite_url
from ops.targets import ThresholdTargets, choose_policy
from training.inflow import recent_inflow
from training.labels import SnapshotScheme
from training.pipeline import LIGHTGBM, TrainingResult, train

CAPACITY_TOLERANCE = 0.10
CAPACITY_SHARES = (0.02, 0.05, 0.10)  # capacities as shares of the holdout's inflow
MODEL_NAME = DEFAULT_MODEL_NAME


def run_params(result: TrainingResult) -> dict[str, str]:
    """The parameters `leadscore train` logs that thresholds and drift read back."""
    config, boundaries = result.config, result.examples.boundaries
    return {
        "horizon_days": str(config.horizon_days),
        "holdout_days": str(config.split.holdout_days),
        "snapshot_every_days": str(config.scheme.every_days),
        "snapshot_max_per_lead": str(config.scheme.max_snapshots),
        **{f"boundary_{k}": f"{v:%Y-%m-%d}" for k, v in boundaries.items()},
    }


def capacity(ctx: Context, section: Section) -> None:
    served = ctx.training  # the default: the served model is refitted on train + holdout leads
    params = run_params(served)
    # The refitted model's holdout is planned on its own scale (`to_served_scale`).
    served_holdout = holdout_evaluation_set(served.holdout, params, probability_column=LIGHTGBM)
    config = served.config
    scheme = SnapshotScheme(config.scheme.every_days, config.scheme.max_snapshots)
    start = time.perf_counter()
    evaluated = train(ctx.world.export, replace(config, refit=False))  # serves what it evaluated
    no_refit_seconds = time.perf_counter() - start
    holdout = holdout_evaluation_set(evaluated.holdout, params, probability_column=LIGHTGBM)
    export = ctx.world.export
    current = recent_inflow(export, export.cutoff, scheme)
    later, later_cutoff = outcome_export(ctx)

    def period(data: Export, scorer: LeadScorer, **kwargs: object) -> EvaluationSet:
        return export_evaluation_set(
            data,
            scorer,
            horizon_days=config.horizon_days,
            window_days=config.split.holdout_days,
            scheme=scheme,
            **kwargs,  # type: ignore[arg-type]
        )

    plans = {
        "holdout, holdout inflow; --no-refit": (holdout, evaluated.scorer),
        "holdout, recent inflow; --no-refit": (
            holdout.with_inflow(current, "recent"),
            evaluated.scorer,
        ),
        "holdout, recent inflow; refitted (default)": (
            served_holdout.with_inflow(current, "recent"),
            served.scorer,
        ),
        "--data training export (recent inflow); refitted": (
            period(export, served.scorer),
            served.scorer,
        ),
    }
    realized_sets = {
        id(scorer): period(later, scorer, as_of=later_cutoff, inflow="period")
        for _, scorer in plans.values()
    }
    rows = []
    for share in CAPACITY_SHARES:
        target = round(share * current, 1)
        for label, (plan, scorer) in plans.items():
            _, choice, policy = choose_policy(
                plan, ThresholdTargets(sql_capacity=target), served.scorer.policy
            )
            planned = tier_figures(plan, policy).set_index("tier").loc["SQL"]
            realized = tier_figures(realized_sets[id(scorer)], policy).set_index("tier").loc["SQL"]
            error = float(realized["leads_per_week"]) / target - 1
            rows.append(
                [
                    f"{target:.1f}",
                    label,
                    f"{choice.sql_threshold:.4f}",
                    f"{planned['leads_per_week']:.1f}",
                    f"{realized['leads_per_week']:.1f}",
                    f"{error:+.1%}",
                    f"{planned['conversion_rate']:.1%}",
                    f"{realized['conversion_rate']:.1%}",
                ]
            )
            gated = label.startswith("holdout, recent inflow")
            section.add(
                Check(
                    "ops",
                    f"SQLs/week vs capacity {target:.0f}: {label}",
                    error * 100,
                    "% off",
                    f"within {CAPACITY_TOLERANCE:.0%}" if gated else "",
                    at_most(abs(error), CAPACITY_TOLERANCE) if gated else None,
                    digits=1,
                )
            )
    realized_inflow = next(iter(realized_sets.values())).leads_per_week
    shares = ", ".join(f"{s:.0%}" for s in CAPACITY_SHARES)
    section.lines.append(
        f"SQL thresholds chosen for weekly capacities of {shares} of the current inflow "
        f"({current:.1f} leads per week entering in the 4 weeks before the cut-off; the "
        f"holdout's own was {holdout.leads_per_week:.1f}: lead volume grows 2.5x over the "
        f"demo's history) on the {ctx.n_leads:,}-lead demo export, then measured on the same "
        f"world exported {config.horizon_days + 1} days after its cut-off: its latest fully "
        f"observed {config.split.holdout_days} days of leads (created after the holdout's; "
        f"inflow {realized_inflow:.1f} per week), scored by the model that would be served, "
        "with the same definition. `--no-refit`: the served model is the evaluated one (trained "
        f"for this comparison in {no_refit_seconds:.0f} s); refitted: the default, planned on the "
        "evaluated model's holdout carried to the served model's scale by share of leads. "
        "(`generate_demo_world` with the same seed and a later cut-off is the same world "
        "shifted in time, campaign names aside, so it cannot test a forecast.)"
    )
    section.lines.append("")
    section.table(
        [
            "capacity (SQLs/week)",
            "planned on; served model",
            "SQL threshold",
            "planned/week",
            "realized/week",
            "off by",
            "planned precision",
            "realized precision",
        ],
        rows,
    )


def outcome_export(ctx: Context) -> tuple[Export, pd.Timestamp]:
    """The demo world exported a horizon (plus a day) after its cut-off: every outcome known."""
    config = ctx.config
    rng = config.random_stream()
    sampled = sample_leads(config, rng)
    covariates = lead_covariates(sampled.frame, config.params)
    journeys = simulate_journeys(
        sampled.created, covariates, config.as_of_seconds, config.horizon_days, config.params, rng
    )
    build_export(sampled, journeys, config, rng)  # keeps the generator's random stream
    later_cutoff = config.as_of + pd.Timedelta(days=config.horizon_days + 1)
    later = build_export(sampled, journeys, config.with_as_of(later_cutoff), rng)
    return later, later_cutoff


def closed_loop_vs_truth(ctx: Context, section: Section) -> None:
    result = ctx.training
    world, config = ctx.world, ctx.config
    truth = world.truth
    snapshots = pd.DataFrame({"lead_id": truth["lead_id"].to_numpy(), "as_of": config.as_of})
    history = LeadHistory(world.export.leads, world.export.activities, snapshots)
    scores = result.scorer.score(history, explain=False)
    store_path = ctx.workdir / "ops_predictions.db"
    store_path.unlink(missing_ok=True)
    store = PredictionLog(sqlite_url(store_path))
    start = time.perf_counter()
    for begin in range(0, len(scores), 1_000):  # as the service would: one commit per request
        store.append(
            scores.iloc[begin : begin + 1_000],
            model_name=MODEL_NAME,
            model_version="bench",
            policy_version=result.scorer.policy.version,
            scored_at=config.as_of.to_pydatetime(),
        )
    log_seconds = time.perf_counter() - start
    predictions = store.read()
    store.close()
    later, later_cutoff = outcome_export(ctx)
    drift = feature_drift(result.scorer, later, run_params(result), predictions)
    loop = closed_loop(predictions, later, config.horizon_days, later_cutoff, drift=drift)

    entries = loop.entries.merge(truth, on="lead_id", how="left")
    same_outcome = float((entries["label"] == entries["won"]).mean())
    rows = []
    for tier in TIERS:
        mine = entries[entries["tier"] == tier]
        row = loop.by_tier.set_index("tier").loc[tier]
        p_true = float(mine["p_true"].mean())
        inside = bool(row["ci_low"] <= p_true <= row["ci_high"])
        rows.append(
            [
                tier,
                f"{row['leads']:,.0f}",
                f"{row['conversion_rate']:.2%} [{row['ci_low']:.2%}, {row['ci_high']:.2%}]",
                f"{p_true:.2%}",
                f"{row['mean_probability']:.2%}",
                "yes" if inside else "no",
            ]
        )
        section.add(
            Check(
                "ops",
                f"{tier}: mean p_true inside realized 95% CI",
                p_true * 100,
                "%",
                "inside CI",
                inside,
            )
        )
    section.lines.append(
        f"{len(predictions):,} truth.csv leads scored at the cut-off and logged "
        f"({len(predictions) / log_seconds:,.0f} rows/s in batches of 1,000, one commit each); "
        f"outcomes from the same world exported on {later_cutoff:%Y-%m-%d}. The joined outcome "
        f"equals truth.csv's `won` for {same_outcome:.2%} of leads."
    )
    section.lines.append("")
    section.table(
        ["tier", "leads", "realized conversion [95% CI]", "mean p_true", "served mean", "inside"],
        rows,
    )
    section.lines.append(
        f"Calibration ECE of served probabilities {loop.ece:.4f}. Drift (training cohort vs the "
        f"scored leads): score PSI {drift.score_psi:.3f}, {len(drift.flagged)} of "
        f"{len(drift.table)} quantities over {drift.threshold:g}"
        + (f" ({', '.join(drift.flagged[:6])})" if drift.flagged else "")
        + "."
    )
    section.lines.append("")


def run(ctx: Context) -> Section:
    section = Section("ops", "Marketing ops: capacity thresholds and the closed loop")
    capacity(ctx, section)
    closed_loop_vs_truth(ctx, section)
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    ctx = Context(args.leads, args.seed, args.workdir)
    try:
        start = time.perf_counter()
        section = run(ctx)
        print(f"# {section.title} ({time.perf_counter() - start:.0f} s)\n")
        for check in section.checks:
            print(f"{check.status:4} {check.metric}: {check.shown()} (target {check.target})")
        print()
        print("\n".join(section.lines))
        return 0 if all(c.passed is not False for c in section.checks) else 1
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
