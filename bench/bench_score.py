"""Batch scoring throughput: `training.batch.score_export` on every open lead at the cut-off."""

from __future__ import annotations

from common import Check, Context, Section, at_least, time_runs

from features.history import LeadHistory
from training.batch import open_leads, score_export

WITH_REASONS_TARGET = 1_500.0  # leads/s, issue 3, section 8
WITHOUT_REASONS_TARGET = 20_000.0


def run(ctx: Context, repeat: int = 3, repeat_reasons: int = 1) -> Section:
    section = Section("score", "Batch scoring throughput")
    export, scorer, as_of = ctx.world.export, ctx.training.scorer, ctx.config.as_of
    snapshots = open_leads(export, as_of)
    n = len(snapshots)
    # Warm-up: first calls pay for lazy imports and allocations a long run amortises.
    warm = LeadHistory(export.leads, export.activities, snapshots.head(200))
    scorer.score(warm, explain=True)

    fast, scores = time_runs(lambda: score_export(export, scorer, as_of, explain=False), repeat)
    assert len(scores) == n
    full, _ = time_runs(lambda: score_export(export, scorer, as_of, explain=True), repeat_reasons)

    # Where the time goes: the same steps on all open leads in one batch.
    history = LeadHistory(export.leads, export.activities, snapshots)
    featuring, A = time_runs(lambda: scorer.featurizer.transform_matrix(history))
    predicting, _ = time_runs(lambda: scorer.model.proba_from_matrix(A))
    explaining, contributions = time_runs(lambda: scorer.model.contributions_from_matrix(A))
    contrib = contributions[:, :-1]
    columns = scorer.featurizer.matrix_columns(A)
    phrasing, _ = time_runs(lambda: scorer.reasons(columns, contrib))
    n_trees = scorer.model.best_iteration_

    section.add(
        Check(
            "score",
            "score_export, explain=False",
            n / fast.best,
            "leads/s",
            f">= {WITHOUT_REASONS_TARGET:,.0f} leads/s",
            at_least(n / fast.best, WITHOUT_REASONS_TARGET),
            digits=0,
        )
    )
    section.add(
        Check(
            "score",
            "score_export, with reasons",
            n / full.best,
            "leads/s",
            f">= {WITH_REASONS_TARGET:,.0f} leads/s",
            at_least(n / full.best, WITH_REASONS_TARGET),
            digits=0,
        )
    )
    section.lines.append(
        f"`score_export(export, scorer, as_of)` on the {n:,} leads with no opportunity at the "
        f"cut-off ({as_of:%Y-%m-%d}), model from `training.pipeline.train` on the same export "
        f"({n_trees} trees + a linear model, {A.shape[1]} features); export already in memory "
        "(no file I/O)."
    )
    section.lines.append("")
    section.table(
        ["run", "wall time", "leads/s", "target"],
        [
            [
                "explain=False (probability, percentile, tier)",
                fast.describe(),
                f"{n / fast.best:,.0f}",
                f">= {WITHOUT_REASONS_TARGET:,.0f}",
            ],
            [
                "explain=True (+ fit/engagement scores, reasons)",
                full.describe(),
                f"{n / full.best:,.0f}",
                f">= {WITH_REASONS_TARGET:,.0f}",
            ],
        ],
    )
    shap_ms = 1e3 * explaining.best / n
    steps = (featuring, predicting, explaining, phrasing)
    rest = full.best - sum(step.best for step in steps)
    section.table(
        ["step, all open leads in one batch", "seconds", "per lead"],
        [
            [
                "features (`LeadFeaturizer.transform_matrix`)",
                f"{featuring.best:.2f}",
                _us(featuring.best, n),
            ],
            ["calibrated prediction", f"{predicting.best:.2f}", _us(predicting.best, n)],
            [
                "contributions (tree SHAP tables + linear terms)",
                f"{explaining.best:.2f}",
                f"{shap_ms:.3f} ms ({1e3 * shap_ms / max(n_trees, 1):.1f} µs per tree)",
            ],
            ["reason texts (`LeadScorer.reasons`)", f"{phrasing.best:.2f}", _us(phrasing.best, n)],
            [
                "rest of the explain=True run (sub-scores, frames, chunking; noise)",
                f"{rest:.2f}",
                _us(rest, n),
            ],
        ],
    )
    section.lines.append(
        "Steps timed one by one on all open leads in one batch (one run each, CPU time of the "
        f"steps {sum(step.best_cpu for step in steps):.2f} s); the last row is what the "
        "explain=True run took beyond them."
    )
    section.lines.append("")
    return section


def _us(seconds: float, n: int) -> str:
    return f"{1e6 * seconds / n:.1f} µs"
