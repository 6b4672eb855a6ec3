"""`make bench-worlds`: train and score every named demo world against its exact truth.

    uv run --frozen python bench/bench_worlds.py                      # every world, update docs
    uv run --frozen python bench/bench_worlds.py default sparse --no-docs
    uv run --frozen python bench/bench_worlds.py --model '{"num_leaves": 15}' --no-docs
    uv run --frozen python bench/bench_worlds.py default --train '{"negative_share": 0.25}'

Per world: `training.pipeline.train` on its export (default TrainConfig unless --model /
--scheme say otherwise), then every truth.csv lead is scored at the cut-off. Figures: expected
AUC and log loss as ratios to the oracle (`p_true`), mean predicted / mean true p overall and
per tier, and the hand-raise injection (one hand-raise a day before the cut-off to a sample of
open leads): the model's mean lift of p over the truth's, and the share of those leads whose
first positive reason names the hand-raise. Ratios carry 95 % bootstrap intervals over the
truth leads (200 resamples), which say how much of a miss the world's size alone explains.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from common import ROOT, loadavg, machine
from run import replace_block

from demo.injection import injected_truth, injection_sample
from demo.variants import WORLDS, world_config
from demo.world import DemoWorld, generate_demo_world
from features.history import LeadHistory
from models.reasons import activity_phrase
from training.labels import SnapshotScheme
from training.metrics import expected_log_loss, soft_auc
from training.pipeline import TrainConfig, train

DOCS = ROOT / "docs" / "benchmarks.md"
AUC_TARGET, LOG_LOSS_TARGET = 0.99, 1.02
MEAN_TOLERANCE, SQL_TOLERANCE = 0.03, 0.05
LIFT_RANGE = (0.9, 1.1)
INJECTED_LEADS = 1_500
BOOTSTRAP = 200
TIERS = ("SQL", "MQL", "nurture")


@dataclass
class WorldFigures:
    """One world's figures: each ratio with its bootstrap interval."""

    name: str
    leads: int
    truth_leads: int
    mean_p_true: float
    won_leads_labelled: int
    seconds: float
    ratios: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


def _ratios(p_true: np.ndarray, p: np.ndarray, tier: np.ndarray) -> dict[str, float]:
    out = {
        "auc": soft_auc(p_true, p) / soft_auc(p_true, p_true),
        "log_loss": expected_log_loss(p_true, p) / expected_log_loss(p_true, p_true),
        "mean": float(p.mean() / p_true.mean()),
    }
    for name in TIERS:
        mine = tier == name
        out[f"mean_{name}"] = float(p[mine].mean() / p_true[mine].mean()) if mine.any() else np.nan
    return out


def _with_interval(
    p_true: np.ndarray, p: np.ndarray, tier: np.ndarray, seed: int
) -> dict[str, tuple[float, float, float]]:
    point = _ratios(p_true, p, tier)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(p), len(p))
        for k, v in _ratios(p_true[rows], p[rows], tier[rows]).items():
            draws[k].append(v)
    return {
        k: (v, float(np.nanquantile(draws[k], 0.025)), float(np.nanquantile(draws[k], 0.975)))
        for k, v in point.items()
    }


def measure_world(
    name: str, config_overrides: TrainConfig, n_leads: int | None, seed: int | None = None
) -> WorldFigures:
    """Generate world `name`, train on it, score its truth leads, inject hand-raises."""
    start = time.perf_counter()
    config = world_config(name, n_leads=n_leads, seed=seed)
    world: DemoWorld = generate_demo_world(config)
    export, truth = world.export, world.truth
    result = train(export, config_overrides)
    scorer = result.scorer
    snapshots = pd.DataFrame({"lead_id": truth["lead_id"].to_numpy(), "as_of": config.as_of})
    scores = scorer.score(LeadHistory(export.leads, export.activities, snapshots), explain=False)
    p_true = truth["p_true"].to_numpy()
    p = scores["probability"].to_numpy()
    tier = scores["tier"].to_numpy().astype(str)
    examples = result.examples.snapshots
    won_leads = int(examples.loc[examples["label"] == 1, "lead_id"].nunique())
    figures = WorldFigures(
        name, len(export.leads), len(truth), float(p_true.mean()), won_leads, 0.0
    )
    figures.ratios = _with_interval(p_true, p, tier, seed=0)

    sample = injection_sample(world, config, INJECTED_LEADS, seed=1)
    edited, lifted = injected_truth(world, config, sample)
    sample_snapshots = pd.DataFrame({"lead_id": sample.to_numpy(), "as_of": config.as_of})
    model_before = scores.set_index("lead_id").loc[sample, "probability"].to_numpy()
    after = scorer.score(LeadHistory(edited.leads, edited.activities, sample_snapshots))
    model_after = after["probability"].to_numpy()
    truth_lift = lifted["p_after"].mean() / lifted["p_before"].mean()
    model_lift = model_after.mean() / model_before.mean()
    first = [r[0] if len(r) else "" for r in after["reasons_positive"]]
    named = np.mean(
        [f.startswith(activity_phrase(t)) for f, t in zip(first, lifted["hand_raise"], strict=True)]
    )
    figures.ratios["lift"] = (model_lift / truth_lift, np.nan, np.nan)
    figures.extra = {
        "truth_lift": float(truth_lift),
        "model_lift": float(model_lift),
        "first_reason_share": float(named),
        "best_iteration": float(result.best_iteration),
        "linear_weight": float(scorer.model.linear_weight_),
        "level_se": float(1.0 / np.sqrt(max(won_leads, 1))),
        # the served level's own standard error (log-odds), from the window's wins
        "window_level_se": float(result.calibration.get("level_se_log_odds", np.nan)),
        "calibration_folds": float(result.calibration.get("calibration_folds_used", np.nan)),
    }
    r = figures.ratios
    figures.passed = {
        "auc": r["auc"][0] >= AUC_TARGET,
        "log_loss": r["log_loss"][0] <= LOG_LOSS_TARGET,
        "mean": abs(r["mean"][0] - 1) <= MEAN_TOLERANCE,
        "mean_SQL": abs(r["mean_SQL"][0] - 1) <= SQL_TOLERANCE,
        "lift": LIFT_RANGE[0] <= r["lift"][0] <= LIFT_RANGE[1],
    }
    figures.seconds = time.perf_counter() - start
    return figures


def level_band(ratio: float, standard_error: float) -> tuple[float, float]:
    """Where the mean ratio would lie with the level's luck removed (+-1.96 standard errors of
    the window's level): a miss whose band reaches the target is within the level's noise."""
    spread = float(np.exp(1.96 * standard_error)) if np.isfinite(standard_error) else np.nan
    return ratio / spread, ratio * spread


def _cell(value: tuple[float, float, float], passed: bool | None, digits: int = 3) -> str:
    v, lo, hi = value
    text = f"{v:.{digits}f}"
    if not np.isnan(lo):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    if passed is not None:
        text += " PASS" if passed else " **MISS**"
    return text


def markdown(figures: list[WorldFigures], info: dict[str, str], settings: str) -> list[str]:
    lines = [
        f"_Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; "
        f"commit {info['commit']}; `{info['command']}`; settings {settings}; "
        f"load average at start {info['load average at start (1, 5, 15 min)']}._",
        "",
        "| world | leads | truth leads | mean p_true | AUC / oracle (>= 0.99) | "
        "log loss / oracle (<= 1.02) | mean p / p_true (0.97-1.03) | SQL tier (0.95-1.05) | "
        "mean within the level's noise | MQL tier | nurture tier | "
        "hand-raise lift model / truth (0.9-1.1) | first reason names it | seconds |",
        "|" + "|".join(" --- " for _ in range(14)) + "|",
    ]
    for f in figures:
        r, ok, x = f.ratios, f.passed, f.extra
        lines.append(
            "| "
            + " | ".join(
                [
                    f.name,
                    f"{f.leads:,}",
                    f"{f.truth_leads:,}",
                    f"{f.mean_p_true:.4f}",
                    _cell(r["auc"], ok["auc"], 4),
                    _cell(r["log_loss"], ok["log_loss"], 4),
                    _cell(r["mean"], ok["mean"]),
                    _cell(r["mean_SQL"], ok["mean_SQL"]),
                    "[{:.3f}, {:.3f}]".format(*level_band(r["mean"][0], x["window_level_se"])),
                    _cell(r["mean_MQL"], None),
                    _cell(r["mean_nurture"], None),
                    f"{x['model_lift']:.2f} / {x['truth_lift']:.2f} = "
                    + _cell(r["lift"], ok["lift"], 2),
                    f"{x['first_reason_share']:.0%}",
                    f"{f.seconds:.0f}",
                ]
            )
            + " |"
        )
    lines += [
        "",
        "Brackets: 95 % bootstrap interval over the world's truth leads (the model held "
        "fixed). Within the level's noise: the mean ratio divided and multiplied by "
        "exp(1.96 x the standard error of the window's level), what another draw of the "
        "window's wins could have set. Level uncertainty "
        "from the labelled history (1 / sqrt(won leads in training snapshots)): "
        + ", ".join(f"{f.name} {f.extra['level_se']:.1%}" for f in figures)
        + ".",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("worlds", nargs="*", metavar="WORLD", help=f"of {', '.join(WORLDS)}")
    parser.add_argument("--leads", type=int, help="override every world's size")
    parser.add_argument("--seed", type=int, help="override every world's seed")
    parser.add_argument("--model", default="{}", help="ConversionModel settings (JSON)")
    parser.add_argument("--scheme", default="{}", help="SnapshotScheme settings (JSON)")
    parser.add_argument(
        "--train", default="{}", help="other TrainConfig settings (JSON), e.g. negative_share"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    names = args.worlds or list(WORLDS)
    unknown = [n for n in names if n not in WORLDS]
    if unknown:
        parser.error(f"unknown world(s) {unknown}; choose from {list(WORLDS)}")
    model, scheme = json.loads(args.model), json.loads(args.scheme)
    others = json.loads(args.train)
    config = TrainConfig(model=model, scheme=replace(SnapshotScheme(), **scheme), **others)
    settings = f"model {json.dumps(model)}, scheme {json.dumps(scheme)}"
    if others:
        settings += f", train {json.dumps(others)}"

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    info = machine()
    figures = []
    for name in names:
        before = loadavg()
        f = measure_world(name, config, args.leads, args.seed)
        figures.append(f)
        print(
            f"{name:12s} "
            + " ".join(f"{k} {v[0]:.4f}" for k, v in f.ratios.items())
            + f" lift {f.extra['model_lift']:.2f}/{f.extra['truth_lift']:.2f}"
            + f" reason {f.extra['first_reason_share']:.0%} {f.seconds:.0f}s "
            + f"load {before[0]:.1f}",
            flush=True,
        )
        gc.collect()
    body = markdown(figures, info, settings)
    print("\n".join(body))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "name": f.name,
                        "ratios": f.ratios,
                        "passed": {k: bool(v) for k, v in f.passed.items()},
                        "extra": f.extra,
                    }
                    for f in figures
                ],
                indent=2,
            )
        )
    full = names == list(WORLDS) and args.leads is None and args.seed is None
    full = full and not (model or scheme or others)
    if full and not args.no_docs:
        text, found = replace_block(DOCS.read_text(), "worlds", body)
        if found:
            DOCS.write_text(text)
    return 0 if all(all(f.passed.values()) for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
