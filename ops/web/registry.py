"""What the web app reads from the MLflow registry: versions, their runs, their tier policies.

Nothing here computes a threshold or a policy: the evaluation set comes from ops.thresholds'
own loaders (the holdout the CLI evaluates on) and is kept per model version, because a model
version's holdout never changes while marketing ops try targets on it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.registry import CHALLENGER, CHAMPION, version_uri
from models.tiers import TierPolicy
from ops.evaluation_set import EvaluationSet, holdout_evaluation_set
from ops.policy_store import APPLIED_AT_TAG, APPLIED_BY_TAG, PolicyStore, StoredPolicy
from ops.thresholds import ModelVersionFacts, load_holdout_predictions, model_version_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionSummary:
    """One registered version: its number, aliases and when it was registered."""

    version: str
    aliases: tuple[str, ...]
    created_ms: int
    run_id: str | None

    @property
    def label(self) -> str:
        return f"version {self.version}" + (
            f" (@{', @'.join(self.aliases)})" if self.aliases else ""
        )


@dataclass(frozen=True)
class PolicyRow:
    """A line of the policy history: the packed policy or a saved one, and whether it is served."""

    version: str
    sql_threshold: float
    mql_threshold: float
    author: str
    created_at: str
    reason: str
    targets: dict[str, float]
    applied: bool
    model_version: str


@dataclass(frozen=True)
class PolicyHistory:
    rows: list[PolicyRow]
    applied_version: str
    applied_by: str | None
    applied_at: str | None


@dataclass
class Registry:
    """The registry of one model name, with the evaluation sets of the versions looked at."""

    model_name: str
    client: MlflowClient = field(default_factory=MlflowClient)
    _evaluations: dict[str, EvaluationSet] = field(default_factory=dict)
    _packed: dict[str, TierPolicy] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> PolicyStore:
        return PolicyStore(self.model_name, self.client)

    def versions(self) -> list[VersionSummary]:
        """Every version of the model, newest first (empty when none is registered)."""
        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
        except MlflowException as exc:
            log.warning("cannot list versions of %s: %s", self.model_name, exc)
            return []
        # Searched versions come without their aliases from some stores (SQLite): the
        # registered model holds them all.
        aliases: dict[str, list[str]] = {}
        try:
            held = self.client.get_registered_model(self.model_name).aliases or {}
        except MlflowException:
            held = {}
        for alias, version in sorted(held.items()):
            aliases.setdefault(str(version), []).append(alias)
        rows = [
            VersionSummary(
                str(v.version),
                tuple(aliases.get(str(v.version)) or getattr(v, "aliases", None) or ()),
                int(v.creation_timestamp or 0),
                v.run_id,
            )
            for v in found
        ]
        return sorted(rows, key=lambda r: int(r.version), reverse=True)

    def resolve(self, selector: str | None) -> str:
        """A version number from `selector`: a number, an alias, or (None) the champion."""
        selector = (selector or CHAMPION).strip()
        if selector.isdigit():
            self.client.get_model_version(self.model_name, selector)  # raises when absent
            return selector
        alias = selector.removeprefix("@")
        return str(self.client.get_model_version_by_alias(self.model_name, alias).version)

    def uri(self, version: str) -> str:
        return version_uri(self.model_name, version)

    def facts(self, version: str) -> ModelVersionFacts:
        """The version's run parameters and currently applied policy (read fresh each time)."""
        return model_version_facts(self.uri(version), self.client)

    def evaluation(self, facts: ModelVersionFacts) -> EvaluationSet:
        """The holdout the CLI's `leadscore thresholds` evaluates this version on (cached)."""
        with self._loading:  # a visitor during the start-up warm-up waits for its result
            with self._lock:
                cached = self._evaluations.get(facts.version)
            if cached is not None:
                return cached
            if not facts.run_id:
                raise ValueError(f"version {facts.version} has no training run with holdout scores")
            data = holdout_evaluation_set(
                load_holdout_predictions(self.client, facts.run_id), facts.params
            )
            with self._lock:
                self._evaluations[facts.version] = data
            return data

    def packed_policy(self, version: str) -> TierPolicy:
        with self._lock:
            cached = self._packed.get(version)
        if cached is None:
            cached = self.store.packaged_policy(version)
            with self._lock:
                self._packed[version] = cached
        return cached

    def policy_history(self, version: str) -> PolicyHistory:
        """The packed policy and every saved one, newest first, with which one is served."""
        store = self.store
        tags = dict(self.client.get_model_version(self.model_name, version).tags)
        packed = self.packed_policy(version)
        applied = store.applied_version(version) or packed.version
        saved: list[StoredPolicy] = store.history(version)
        rows = [
            PolicyRow(
                packed.version,
                packed.sql_threshold,
                packed.mql_threshold,
                "training",
                "",
                "packed with the model when it was trained",
                {k: float(v) for k, v in packed.basis.items() if isinstance(v, int | float)},
                applied == packed.version,
                version,
            )
        ]
        rows += [
            PolicyRow(
                record.version,
                record.policy.sql_threshold,
                record.policy.mql_threshold,
                record.author,
                record.created_at,
                record.reason,
                record.targets,
                applied == record.version,
                record.model_version,
            )
            for record in saved
        ]
        rows.sort(key=lambda r: int(r.version) if r.version.isdigit() else 0, reverse=True)
        return PolicyHistory(rows, applied, tags.get(APPLIED_BY_TAG), tags.get(APPLIED_AT_TAG))

    def run(self, run_id: str | None) -> Any | None:
        if not run_id:
            return None
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            log.warning("cannot read run %s: %s", run_id, exc)
            return None

    def alias_versions(self) -> dict[str, str]:
        """Champion and challenger version numbers, where set."""
        found: dict[str, str] = {}
        for alias in (CHAMPION, CHALLENGER):
            try:
                found[alias] = str(
                    self.client.get_model_version_by_alias(self.model_name, alias).version
                )
            except MlflowException:
                continue
        return found
