"""The Model page: champion and challenger side by side, as the registry records them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.registry import APPLIED_POLICY_TAG, CHALLENGER, CHAMPION
from ops.web.registry import Registry
from training.evaluate import METRIC_NAMES

# Lower is better for these; the page says which way each metric points.
LOWER_IS_BETTER = {"log_loss", "brier", "ece"}
NO_DIRECTION = {"base_rate"}  # a property of the holdout cohort, not of the model
PERCENT_METRICS = {"capture_top10", "capture_top20", "base_rate"}
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier score",
    "ece": "calibration error (ECE)",
    "lift_top10": "lift in the top 10 %",
    "lift_top20": "lift in the top 20 %",
    "capture_top10": "conversions in the top 10 %",
    "capture_top20": "conversions in the top 20 %",
    "base_rate": "conversion rate (all leads)",
}
WINDOW_PARAMS = ("cutoff", "horizon_days", "holdout_days", "validation_days")
# Parameters and tags about the data window and the promotion gate, whatever their number:
# training records more of them over time, and the page shows what the registry has.
WINDOW_PREFIXES = ("boundary_", "window_", "data_", "train_")
GATE_PREFIXES = ("gate_",)


@dataclass(frozen=True)
class MetricCell:
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ModelColumn:
    """One version's card: what it is, how it did on its holdout, how the gate decided."""

    role: str
    version: str
    created_ms: int
    run_id: str | None
    metrics: dict[str, MetricCell]
    window: dict[str, str]
    gate_metrics: dict[str, float]
    gate_facts: dict[str, str]
    applied_policy: str | None
    tags: dict[str, str] = field(default_factory=dict)


def _column(registry: Registry, role: str, version: str) -> ModelColumn:
    found = registry.client.get_model_version(registry.model_name, version)
    run = registry.run(found.run_id)
    metrics: dict[str, float] = dict(run.data.metrics) if run else {}
    params: dict[str, str] = dict(run.data.params) if run else {}
    run_tags: dict[str, str] = dict(run.data.tags) if run else {}
    cells = {
        name: MetricCell(
            metrics.get(f"holdout_{name}"),
            metrics.get(f"holdout_{name}_ci_low"),
            metrics.get(f"holdout_{name}_ci_high"),
        )
        for name in METRIC_NAMES
        if f"holdout_{name}" in metrics
    }
    version_tags = dict(found.tags)
    window = {k: params[k] for k in WINDOW_PARAMS if k in params}
    # Run parameters (cohort boundaries) and registry tags (the recorded data window).
    window |= {
        k: v for k, v in sorted({**params, **version_tags}.items()) if k.startswith(WINDOW_PREFIXES)
    }
    gate_metrics = {k: v for k, v in sorted(metrics.items()) if k.startswith(GATE_PREFIXES)}
    gate_facts = {
        k: v
        for k, v in sorted({**params, **run_tags, **version_tags}.items())
        if k.startswith(GATE_PREFIXES)
    }
    return ModelColumn(
        role=role,
        version=version,
        created_ms=int(found.creation_timestamp or 0),
        run_id=found.run_id,
        metrics=cells,
        window=window,
        gate_metrics=gate_metrics,
        gate_facts=gate_facts,
        applied_policy=version_tags.get(APPLIED_POLICY_TAG),
    )


def model_columns(registry: Registry, other: str | None = None) -> list[ModelColumn]:
    """Champion, then challenger (or `other`, any version), when the registry has them."""
    aliases = registry.alias_versions()
    wanted: list[tuple[str, str]] = []
    if CHAMPION in aliases:
        wanted.append((CHAMPION, aliases[CHAMPION]))
    if other:
        wanted.append((f"version {other}", other))
    elif CHALLENGER in aliases and aliases[CHALLENGER] != aliases.get(CHAMPION):
        wanted.append((CHALLENGER, aliases[CHALLENGER]))
    return [_column(registry, role, version) for role, version in wanted]


def metric_rows(columns: list[ModelColumn]) -> list[dict[str, Any]]:
    """One row per metric any column has, in the training report's order."""
    names = [n for n in METRIC_NAMES if any(n in c.metrics for c in columns)]
    return [
        {
            "name": name,
            "label": METRIC_LABELS.get(name, name),
            "better": ""
            if name in NO_DIRECTION
            else ("lower is better" if name in LOWER_IS_BETTER else "higher is better"),
            "percent": name in PERCENT_METRICS,
            "cells": [c.metrics.get(name) for c in columns],
        }
        for name in names
    ]
