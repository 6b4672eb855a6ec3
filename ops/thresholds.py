"""`leadscore thresholds`: tier thresholds for a registered model version, recorded in MLflow.

Resolves the model version and its training run, builds the evaluation set (the run's holdout
or a fresh export, ops/evaluation_set.py), chooses thresholds for the targets (ops/targets.py),
renders the page (ops/threshold_report.py) and records (and maybe applies) the policy with the
tier-policy store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from features.contract import Export
from models.registry import HOLDOUT_ARTIFACT, resolve_model_version, version_uri
from models.tiers import TierPolicy
from ops.evaluation_set import (
    EvaluationSet,
    export_evaluation_set,
    holdout_evaluation_set,
)
from ops.targets import ThresholdChoice, ThresholdTargets, choose_policy, policy_figures
from ops.threshold_report import threshold_report
from training.labels import SnapshotScheme


@dataclass(frozen=True)
class ModelVersionFacts:
    """A registered model version, its training run's parameters and its current policy."""

    name: str
    version: str
    run_id: str | None
    params: dict[str, str]
    current: TierPolicy


def model_version_facts(model_uri: str, client: Any) -> ModelVersionFacts:
    """Resolve `model_uri` to a registry version with its run parameters and served policy."""
    from ops.policy_store import PolicyStore

    name, version = resolve_model_version(model_uri, client)
    found = client.get_model_version(name, version)
    params = dict(client.get_run(found.run_id).data.params) if found.run_id else {}
    store = PolicyStore(name, client)
    current = store.served_policy(version, store.packaged_policy(version))
    return ModelVersionFacts(name, version, found.run_id, params, current)


def load_holdout_predictions(client: Any, run_id: str) -> pd.DataFrame:
    """The holdout predictions a training run stored with its report."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, HOLDOUT_ARTIFACT, tmp)
        return pd.read_parquet(Path(path))


@dataclass(frozen=True)
class ThresholdsResult:
    """What `leadscore thresholds` found, chose and (maybe) recorded."""

    facts: ModelVersionFacts
    data: EvaluationSet
    curve: pd.DataFrame
    choice: ThresholdChoice
    policy: TierPolicy
    report_html: str
    saved_version: str | None = None
    applied: bool = False
    caveats: tuple[str, ...] = ()


def refit_caveats(params: Mapping[str, str], data: EvaluationSet, on_holdout: bool) -> list[str]:
    """What to keep in mind when the served model is not the one the figures come from."""
    if str(params.get("refit", "False")).lower() != "true":
        return []
    if on_holdout and data.on_served_scale:
        return [
            "The served model was refitted on train + holdout leads after the evaluation: "
            "the thresholds are on its scale (each evaluated probability carried to the served "
            "model's score at the same share of holdout leads), so volumes follow the served "
            "model while precision and recall are the evaluated model's, out of sample."
        ]
    if on_holdout:
        return [
            "The served model was refitted on train + holdout leads after the evaluation; the "
            "holdout predictions are the evaluated model's, so the served model's volumes can "
            "differ (on the demo world by 10-20 %). For volumes from the served model use "
            "--data with the export it was trained on (its precision and recall are then "
            "in-sample, optimistic) or a later one, or train with --no-refit."
        ]
    trained_until = params.get("boundary_last_as_of")
    if (
        trained_until
        and pd.notna(data.window_start)
        and data.window_start < pd.Timestamp(trained_until)
    ):
        return [
            "The served model was refitted on leads up to "
            f"{trained_until}: this period overlaps its training data, so precision and recall "
            "are in-sample (optimistic). Use a later export for out-of-sample figures."
        ]
    return []


def calibrate_thresholds(
    model_uri: str,
    targets: ThresholdTargets,
    *,
    export: Export | None = None,
    as_of: pd.Timestamp | None = None,
    horizon_days: int | None = None,
    window_days: int | None = None,
    leads_per_week: float | None = None,
    reason: str = "",
    author: str | None = None,
    save: bool = True,
    apply: bool = False,
    client: Any | None = None,
) -> ThresholdsResult:
    """Evaluate thresholds for a registered model version; record (and apply) the chosen policy.

    Without `export` the model's own holdout is used; with it, the export's latest fully
    observed period scored by the model. A policy is recorded only when targets are given.
    """
    from mlflow import MlflowClient

    from models.pyfunc import load_scorer_from_uri
    from ops.policy_store import PolicyStore
    from training.report import render_report

    client = client or MlflowClient()
    facts = model_version_facts(model_uri, client)
    params = facts.params
    if export is None:
        if not facts.run_id:
            raise ValueError(f"{model_uri} has no training run with holdout predictions")
        data = holdout_evaluation_set(
            load_holdout_predictions(client, facts.run_id),
            params,
            leads_per_week=leads_per_week,
        )
    else:
        scheme = SnapshotScheme(
            every_days=int(params.get("snapshot_every_days", 14)),
            max_snapshots=int(params.get("snapshot_max_per_lead", 8)),
        )
        scorer = load_scorer_from_uri(version_uri(facts.name, facts.version))
        data = export_evaluation_set(
            export,
            scorer,
            as_of,
            horizon_days or int(params.get("horizon_days", 90)),
            window_days or int(params.get("holdout_days", 120)),
            scheme,
        )
    if leads_per_week is not None:
        data = data.with_inflow(leads_per_week, "given with --leads-per-week")
    curve, choice, policy = choose_policy(data, targets, facts.current)
    caveats = refit_caveats(params, data, on_holdout=export is None)
    label = f"{facts.name} version {facts.version}"
    sections = threshold_report(data, curve, choice, policy, label)
    if caveats:
        sections[0] = replace(sections[0], text=sections[0].text + "\n\n" + " ".join(caveats))
    _, page = render_report(f"leadscore thresholds: {label}", sections)
    saved_version: str | None = None
    if save and targets.given():
        store = PolicyStore(facts.name, client)
        stored = store.save(
            facts.version,
            policy,
            targets=targets.given(),
            figures={
                **policy_figures(data, policy),
                "outcomes": [o.__dict__ for o in choice.outcomes],
                "notes": [*choice.notes, *caveats],
            },
            reason=reason,
            author=author,
            files={
                "thresholds.csv": curve.to_csv(index=False),
                "report.html": page,
            },
        )
        saved_version = stored.version
        policy = stored.policy
        if apply:
            store.apply(facts.version, stored.version, author)
    return ThresholdsResult(
        facts,
        data,
        curve,
        choice,
        policy,
        page,
        saved_version,
        apply and saved_version is not None,
        tuple(caveats),
    )
