"""The Model page: champion and challenger side by side, as the registry records them.

Each column is one registered version: its holdout metrics with their intervals (the training
run's `holdout_*` metrics), the promotion gate's decision (the run's `gate_*` tags and
metrics: promoted or not, why, against which champion, on how many leads) and the data window
it was fitted on (the version's `data_window_*` tags and the run's cohort boundaries). After a
promotion champion and challenger are one version; the page then sets the champion beside the
version it replaced, which its gate names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.registry import (
    APPLIED_POLICY_TAG,
    CHALLENGER,
    CHAMPION,
    WINDOW_COLUMN_TAG,
    WINDOW_CUTOFF_TAG,
    WINDOW_END_TAG,
    WINDOW_KIND_TAG,
    WINDOW_LEADS_TAG,
    WINDOW_START_TAG,
)
from ops.web.formatting import count, day
from ops.web.registry import Registry
from training.metrics import LOWER_IS_BETTER, METRIC_NAMES

PREVIOUS_CHAMPION = "previous champion"
GATE_CHAMPION_TAG = "gate_champion_version"  # training.tracking.register_and_gate sets it
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
# The gate compares both models on the same leads by these (training/gate.py).
GATE_COMPARISONS = (
    ("log_loss", "log loss", "lower is better"),
    ("roc_auc", "ROC AUC", "higher is better"),
)
GATE_COUNTS = ("compared_leads", "compared_converted_leads", "compared_rows")
GATE_KNOWN = {
    "gate_promoted",
    "gate_reason",
    GATE_CHAMPION_TAG,
    *(f"gate_{k}" for k in GATE_COUNTS),
    *(f"gate_{who}_{m}" for m, _, _ in GATE_COMPARISONS for who in ("challenger", "champion")),
}
# Run parameters about the window, in the order people read them, with their labels.
WINDOW_PARAMS = {
    "boundary_validation_start": "validation cohort from",
    "boundary_holdout_start": "holdout cohort from",
    "boundary_last_as_of": "last snapshot",
    "horizon_days": "conversion horizon (days)",
    "holdout_days": "holdout (days)",
    "validation_days": "validation (days)",
}
WINDOW_TAGS = {
    WINDOW_KIND_TAG,
    WINDOW_COLUMN_TAG,
    WINDOW_START_TAG,
    WINDOW_END_TAG,
    WINDOW_CUTOFF_TAG,
    WINDOW_LEADS_TAG,
}
# Whatever else training records about windows is shown too, under its own name.
WINDOW_PREFIXES = ("boundary_", "window_", "data_window_", "train_")


@dataclass(frozen=True)
class MetricCell:
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class GateView:
    """The gate's decision on a version: promoted or kept, why, against which champion, and
    the leads it compared both models on with their figures there."""

    promoted: bool | None
    reason: str
    champion_version: str | None
    leads: float | None
    converted: float | None
    rows: float | None
    # (label, which way is better, this version's figure, the champion's figure)
    comparisons: list[tuple[str, str, float, float]]
    other: dict[str, str]

    @property
    def recorded(self) -> bool:
        return self.promoted is not None or bool(self.comparisons or self.other)


@dataclass(frozen=True)
class ModelColumn:
    """One version's card: what it is, how it did on its holdout, how the gate decided."""

    role: str
    version: str
    created_ms: int
    run_id: str | None
    metrics: dict[str, MetricCell]
    window: list[tuple[str, str]]
    gate: GateView
    applied_policy: str | None
    tags: dict[str, str] = field(default_factory=dict)


def gate_view(metrics: dict[str, float], tags: dict[str, str]) -> GateView:
    promoted = tags.get("gate_promoted")
    comparisons = [
        (label, better, metrics[f"gate_challenger_{m}"], metrics[f"gate_champion_{m}"])
        for m, label, better in GATE_COMPARISONS
        if f"gate_challenger_{m}" in metrics and f"gate_champion_{m}" in metrics
    ]
    other = {
        k.removeprefix("gate_").replace("_", " "): f"{v:,.4g}" if isinstance(v, float) else str(v)
        for k, v in sorted({**metrics, **tags}.items())
        if k.startswith("gate_") and k not in GATE_KNOWN
    }
    return GateView(
        promoted=None if promoted is None else promoted == "True",
        reason=tags.get("gate_reason", ""),
        champion_version=tags.get(GATE_CHAMPION_TAG) or None,
        leads=metrics.get("gate_compared_leads"),
        converted=metrics.get("gate_compared_converted_leads"),
        rows=metrics.get("gate_compared_rows"),
        comparisons=comparisons,
        other=other,
    )


def window_rows(params: dict[str, str], tags: dict[str, str]) -> list[tuple[str, str]]:
    """The data window as people read it: which leads, up to when, and the cohorts."""
    rows: list[tuple[str, str]] = []
    kind = tags.get(WINDOW_KIND_TAG)
    if kind:
        leads = count(tags.get(WINDOW_LEADS_TAG) or None)
        start, end = day(tags.get(WINDOW_START_TAG)), day(tags.get(WINDOW_END_TAG))
        if kind == "table_rows":
            rows.append(("fitted on", f"{leads} table rows (no time column)"))
        elif kind == "table_time":
            rows.append(("fitted on", f"{leads} rows by {tags.get(WINDOW_COLUMN_TAG)}"))
            rows.append(("from", f"{start} to {end}"))
        else:
            rows.append(("fitted on", f"{leads} leads"))
            rows.append(("leads created", f"{start} to {end}"))
        if tags.get(WINDOW_CUTOFF_TAG):
            rows.append(("outcomes known up to (cut-off)", day(tags[WINDOW_CUTOFF_TAG])))
    elif params.get("cutoff"):
        rows.append(("cut-off", day(params["cutoff"])))
    for key, label in WINDOW_PARAMS.items():
        if key in params:
            value = params[key]
            rows.append((label, day(value) if key.startswith("boundary_") else value))
    rows += [
        (k.replace("_", " "), v)
        for k, v in sorted({**params, **tags}.items())
        if k.startswith(WINDOW_PREFIXES) and k not in WINDOW_PARAMS and k not in WINDOW_TAGS
    ]
    return rows


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
    return ModelColumn(
        role=role,
        version=version,
        created_ms=int(found.creation_timestamp or 0),
        run_id=found.run_id,
        metrics=cells,
        window=window_rows(params, version_tags),
        gate=gate_view(metrics, {**run_tags, **version_tags}),
        applied_policy=version_tags.get(APPLIED_POLICY_TAG),
    )


def model_columns(registry: Registry, other: str | None = None) -> list[ModelColumn]:
    """Champion, then challenger (or `other`, any version), when the registry has them; when
    the challenger is the champion (it was promoted), the champion it replaced."""
    aliases = registry.alias_versions()
    champion = aliases.get(CHAMPION)
    columns = [_column(registry, CHAMPION, champion)] if champion else []
    if other:
        if other != champion:
            columns.append(_column(registry, f"version {other}", other))
    elif CHALLENGER in aliases and aliases[CHALLENGER] != champion:
        columns.append(_column(registry, CHALLENGER, aliases[CHALLENGER]))
    elif columns:
        replaced = columns[0].gate.champion_version
        if replaced and replaced != champion:
            columns.append(_column(registry, PREVIOUS_CHAMPION, replaced))
    return columns


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
