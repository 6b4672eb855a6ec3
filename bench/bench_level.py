"""The served model's level on demo worlds, rule against rule from one training each.

    nice -n 10 uv run --frozen python bench/bench_level.py sparse seasonal --leads 10000

Per world: `training.pipeline.train` (default TrainConfig) with `training.refit_served.set_level`
wrapped to keep the level's inputs (the window's snapshots, exposure and out-of-fold scores,
the calibration rows). Then the mean predicted p over the truth leads at the cut-off / mean
`p_true`, with the level set by each rule on the same scores: none (the calibration's own
level, that of the newest labelled cohorts: `training.calibration_set`), the window alone
(`level_followed=False`), followed (the default), and the window's uncensored outcomes (known
in the simulation only). Also the window's exposure read and realised, and its exact truth
(`p_true` at each snapshot's day). Prints one JSON object per world.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings

import numpy as np
import pandas as pd
from bench_worlds import _with_interval
from scipy.optimize import brentq
from scipy.special import expit, logit

import training.pipeline as pipeline
import training.refit_served as refit
from demo.covariates import lead_covariates
from demo.journeys import simulate_journeys
from demo.leads import sample_leads
from demo.params import DAY
from demo.variants import WORLDS, world_config
from demo.world import bayes_won_probability, generate_demo_world
from features.build import LeadHistory
from models.tiers import assign_tier
from training.level import followed_wins, level_standard_error


def _shift(base: np.ndarray, exposure: np.ndarray, wins: float) -> float:
    """The log-odds shift that makes sum(exposure x p) over the window equal `wins`."""
    lb = logit(base)
    return float(brentq(lambda s: (exposure * expit(lb + s)).sum() - wins, -5, 5))


def measure(name: str, n_leads: int | None, seed: int | None = None) -> dict[str, object]:
    start = time.perf_counter()
    config = world_config(name, n_leads=n_leads, seed=seed)
    world = generate_demo_world(config)
    # The same draws again, for the journeys' outcomes past the cut-off (uncensored).
    rng = config.random_stream()
    sampled = sample_leads(config, rng)
    covariates = lead_covariates(sampled.frame, config.params)
    journeys = simulate_journeys(
        sampled.created, covariates, config.as_of_seconds, config.horizon_days, config.params, rng
    )
    row = pd.Index(sampled.frame["lead_id"])

    kept: dict[str, object] = {}
    original = refit.set_level

    def keep(model, level, raw, labelled=None, followed=False):  # type: ignore[no-untyped-def]
        # the calibrator's level before the window's: that of the newest labelled cohorts
        kept.update(
            level=level,
            labelled=labelled,
            base=model.calibrator_.predict(raw),
            base_level=model.calibrator_.level_,
        )
        return original(model, level, raw, labelled, followed)

    refit.set_level = keep  # type: ignore[assignment]
    try:
        result = pipeline.train(world.export, pipeline.TrainConfig(n_bootstrap=10))
    finally:
        refit.set_level = original  # type: ignore[assignment]
    model, truth = result.scorer.model, world.truth
    snapshots = pd.DataFrame({"lead_id": truth["lead_id"], "as_of": config.as_of})
    history = LeadHistory(world.export.leads, world.export.activities, snapshots)
    raw = model.predict_raw(result.scorer.featurizer.transform(history))
    calibrator = model.calibrator_
    served = calibrator.level_
    calibrator.level_ = 0.0
    p0 = expit(logit(calibrator.predict(raw)) + float(kept["base_level"]))  # type: ignore[arg-type]
    calibrator.level_ = served
    p_true = truth["p_true"].to_numpy()
    tier = np.asarray(assign_tier(p0, result.scorer.policy)).astype(str)

    level, base = kept["level"], np.asarray(kept["base"])
    exposure, window = level.exposure, level.snapshots  # type: ignore[attr-defined]
    lead = row.get_indexer(window["lead_id"])
    as_of = window["as_of"].to_numpy().astype("datetime64[s]").astype(np.int64)
    close = journeys.open_time[lead] + journeys.cycle_days[lead] * DAY
    uncensored = (
        (journeys.open_time[lead] >= as_of)
        & journeys.won[lead]
        & (close <= as_of + config.horizon_days * DAY)
    )
    window_truth = np.zeros(len(window))
    for day, rows in window.groupby(window["as_of"].dt.ceil("D")).indices.items():
        ids = window["lead_id"].iloc[rows].reset_index(drop=True)
        window_truth[rows] = bayes_won_probability(world.export, ids, config.with_as_of(day))

    observed = level.observed  # type: ignore[attr-defined]
    shifts = {
        "none": 0.0,
        "window": _shift(base, exposure, float(observed.sum())),
        "followed": _shift(base, exposure, followed_wins(level, base, kept["labelled"])),  # type: ignore[arg-type]
        "uncensored": _shift(base, np.ones(len(base)), float(uncensored.sum())),
    }
    out: dict[str, object] = {"world": name, "leads": len(world.export.leads), "seed": config.seed}
    for rule, s in shifts.items():
        p = expit(logit(p0) + s)
        out[f"mean_{rule}"] = round(float(p.mean() / p_true.mean()), 3)
        interval = _with_interval(p_true, p, tier, seed=0)
        out[f"interval_{rule}"] = {
            k: [round(v, 3) for v in interval[k]] for k in ("mean", "mean_SQL")
        }
        out[f"tiers_{rule}"] = {
            t: round(float(p[tier == t].mean() / p_true[tier == t].mean()), 3)
            for t in ("SQL", "MQL", "nurture")
            if (tier == t).any()
        }
        out[f"shift_{rule}"] = round(s, 3)
    leads_in_window = window["lead_id"].to_numpy()
    out.update(
        mean_served=round(float(expit(logit(calibrator.predict(raw))).mean() / p_true.mean()), 3),
        window_level_se=round(level_standard_error(leads_in_window, observed, exposure * base), 3),
        calibration_folds=result.calibration.get("calibration_folds_used"),
        window_snapshots=len(window),
        window_wins_observed=int(observed.sum()),
        window_wins_uncensored=int(uncensored.sum()),
        exposure_read=round(float(exposure.mean()), 3),
        exposure_realised=round(float(observed.sum() / max(uncensored.sum(), 1)), 3),
        window_model_over_truth=round(float(base.mean() / window_truth.mean()), 3),
        cutoff_model_over_truth=round(float(p0.mean() / p_true.mean()), 3),
        seconds=round(time.perf_counter() - start),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("worlds", nargs="+", metavar="WORLD", help=f"of {', '.join(WORLDS)}")
    parser.add_argument("--leads", type=int, help="override every world's size")
    parser.add_argument("--seed", type=int, help="override every world's seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    for name in args.worlds:
        print(json.dumps(measure(name, args.leads, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
