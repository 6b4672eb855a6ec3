"""Single-table training on two public lead tables, next to the figures their READMEs publish.

- X Education `Leads.csv`: label `Converted`; leak columns and ids dropped as the README says;
  "Select" read as missing. Published: stratified 5-fold CV ROC AUC 0.865 (logistic) / 0.872
  (LightGBM).
- UCI bank marketing `bank-additional-full.csv` (`;`-separated): label `y`; `duration` dropped.
  Published: stratified 5-fold CV 0.792 / 0.800; time-ordered 80/20 holdout 0.748 / 0.658. The
  file is in date order, so row order serves as time for the forward split.

Protocols: ``holdout`` is what `leadscore train` does on a table without timestamps (stratified
65/15/20, with bootstrap intervals); ``cv5`` holds out each of 5 stratified folds in turn
(validation: a stratified 15 % of the rest) and reports mean +- sd; ``time`` orders by row and
holds out the latest 20 % (the same rows as the published 80/20 holdout), validating on the 15 %
before it, so both models train on the earliest 65 %.

Data: ``../shared/datasets`` from the repo root, or ``$LEADSCORE_DATASETS``. Datasets that are
not there are skipped with a message.

    uv run python bench/bench_single_table.py [--dataset x_education|bank|all] [--n-jobs 1]
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, train_test_split

from models.baselines import logistic_baseline, to_object_categoricals
from training.evaluate import evaluate_predictions
from training.pipeline import LIGHTGBM, LOGISTIC
from training.public_tables import BANK_MARKETING, X_EDUCATION, datasets_folder
from training.single_table import MODELS, SingleTableResult, train_table
from training.table_input import TableConfig, prepare_table, read_table

REPO = Path(__file__).resolve().parent.parent
METRICS = ("roc_auc", "log_loss", "brier", "ece", "lift_top10")


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: str  # relative to the datasets folder
    config: TableConfig
    published: dict[str, dict[str, float]]  # protocol -> model -> ROC AUC
    time_split: bool


BENCHMARKS = {
    "x_education": Benchmark(
        name="X Education leads",
        path=X_EDUCATION.path,
        config=TableConfig(
            label_column=X_EDUCATION.label_column,
            drop=X_EDUCATION.leaks + X_EDUCATION.ids,
            missing_values=X_EDUCATION.missing_values,
        ),
        published={"cv5": {LOGISTIC: 0.865, LIGHTGBM: 0.872}},
        time_split=False,
    ),
    "bank": Benchmark(
        name="UCI bank marketing (bank-additional-full)",
        path=BANK_MARKETING.path,
        config=TableConfig(label_column=BANK_MARKETING.label_column, drop=BANK_MARKETING.leaks),
        published={
            "cv5": {LOGISTIC: 0.792, LIGHTGBM: 0.800},
            "time": {LOGISTIC: 0.748, LIGHTGBM: 0.658},
        },
        time_split=True,
    ),
}


def cv_cohorts(labels: np.ndarray, folds: int, validation_share: float, seed: int):
    """Per fold: cohort labels with that fold held out and a stratified validation share."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for rest, holdout in splitter.split(np.zeros(len(labels)), labels):
        train, validation = train_test_split(
            rest,
            test_size=validation_share * len(labels) / len(rest),
            stratify=labels[rest],
            random_state=seed,
        )
        cohorts = np.empty(len(labels), dtype=object)
        cohorts[train], cohorts[validation], cohorts[holdout] = "train", "validation", "holdout"
        yield cohorts


def metric_rows(protocol: str, result: SingleTableResult, published: dict) -> list[dict]:
    rows = []
    for model in MODELS:
        metrics = result.evaluations[model].metrics
        row: dict[str, object] = {"protocol": protocol, "model": model}
        row.update({m: metrics[m].format(3) for m in METRICS})
        row["published_auc"] = published.get(model, float("nan"))
        rows.append(row)
    return rows


def logistic_on_train_and_validation(result: SingleTableResult) -> dict[str, str]:
    """Features and logistic baseline refitted on the first 80 % (no validation), as published."""
    table = result.table
    raw = table.drop(columns=["label", "cohort"])
    fitted = table["cohort"].to_numpy() != "holdout"
    featurizer = clone(result.featurizer).fit(raw[fitted])
    X = to_object_categoricals(featurizer.transform(raw), featurizer.categorical_features_)
    logistic = logistic_baseline(featurizer.categorical_features_, featurizer.numeric_features_)
    logistic.fit(X[fitted], table["label"].to_numpy()[fitted])
    p = logistic.predict_proba(X[~fitted])[:, 1]
    metrics = evaluate_predictions(table["label"].to_numpy()[~fitted], p, n_bootstrap=200)
    return {m: metrics[m].format(3) for m in METRICS}


def run_benchmark(bench: Benchmark, root: Path, folds: int, n_jobs: int, seed: int) -> None:
    path = root / bench.path
    print(f"\n## {bench.name}: {path}")
    if not path.is_file():
        print(f"SKIPPED: {path} not found (set LEADSCORE_DATASETS to the datasets folder)")
        return
    table = read_table(path)
    config = replace(bench.config, model={"n_jobs": n_jobs}, seed=seed)
    rows: list[dict] = []

    clock = time.perf_counter()
    result = train_table(table, config, source=path)
    print(
        f"{len(table):,} rows; {len(result.featurizer.feature_names_out_)} features; "
        f"excluded: {result.excluded}"
    )
    print(f"label values: {result.label_values}; cohorts: {result.counts}")
    if result.suspected_leaks:
        print(f"suspected leaks: {result.suspected_leaks}")
    print(
        f"holdout run: {time.perf_counter() - clock:.1f} s, {result.best_iteration} trees, "
        f"calibration {result.calibration['method']}"
    )
    print("top features:", ", ".join(f"{k} {v:.3f}" for k, v in result.importance.head(6).items()))
    rows += metric_rows("holdout 65/15/20", result, {})

    clock = time.perf_counter()
    labels = prepare_table(table, config).labels
    fold_metrics: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
    cv_config = replace(config, n_bootstrap=0)
    for cohorts in cv_cohorts(labels, folds, config.validation_share, seed):
        fold = train_table(table, cv_config, cohorts=cohorts)
        for model in MODELS:
            fold_metrics[model].append(
                {m: fold.evaluations[model].metrics[m].value for m in METRICS}
            )
    for model in MODELS:
        frame = pd.DataFrame(fold_metrics[model])
        row: dict[str, object] = {"protocol": f"cv{folds} mean+-sd", "model": model}
        row.update({m: f"{frame[m].mean():.3f} +- {frame[m].std(ddof=1):.3f}" for m in METRICS})
        row["published_auc"] = bench.published.get("cv5", {}).get(model, float("nan"))
        rows.append(row)
    print(f"cv{folds}: {time.perf_counter() - clock:.1f} s")

    if bench.time_split:
        clock = time.perf_counter()
        forward = train_table(table, replace(config, row_order_is_time=True), source=path)
        rows += metric_rows("time (row order) 65/15/20", forward, bench.published.get("time", {}))
        print(
            f"time split: {time.perf_counter() - clock:.1f} s, boundaries {forward.boundaries}, "
            f"cohorts {forward.counts}, {forward.best_iteration} trees"
        )
        if forward.suspected_leaks:
            print(f"suspected leaks (time split): {forward.suspected_leaks}")
        rows.append(
            {
                "protocol": "time, logistic fitted on first 80%",
                "model": LOGISTIC,
                **logistic_on_train_and_validation(forward),
                "published_auc": bench.published.get("time", {}).get(LOGISTIC, float("nan")),
            }
        )

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*BENCHMARKS, "all"], default="all")
    parser.add_argument("--folds", type=int, default=5)
    # One LightGBM thread: on a shared 2-core machine two OpenMP threads can be far slower.
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    root = datasets_folder()
    print(f"datasets: {root}")
    names = list(BENCHMARKS) if args.dataset == "all" else [args.dataset]
    for name in names:
        run_benchmark(BENCHMARKS[name], root, args.folds, args.n_jobs, args.seed)


if __name__ == "__main__":
    main()
