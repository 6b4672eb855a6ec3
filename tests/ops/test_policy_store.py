"""Tier policies kept per model version in the MLflow registry: save, apply, serve, reload."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient

from models.registry import APPLIED_POLICY_TAG, CHAMPION, resolve_model_version
from models.tiers import TierPolicy
from ops.policy_store import PolicyCheckFailed, PolicyNotFound, PolicyStore, PolicyWatcher

NAME = "lead-conversion-policy-test"
PACKED = TierPolicy(sql_threshold=0.30, mql_threshold=0.10, version="1")


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, str, str]:
    """One MLflow store with a finished run whose logged model holds the packed policy file."""
    folder = tmp_path_factory.mktemp("policy-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("policies", (folder / "artifacts").as_uri())
    run = client.create_run(experiment)
    model = folder / "model" / "artifacts"
    model.mkdir(parents=True)
    (model / "tier_policy.json").write_text(json.dumps(PACKED.to_dict()))
    client.log_artifacts(run.info.run_id, str(folder / "model"), "model")
    client.set_terminated(run.info.run_id)
    return client, run.info.run_id, f"{run.info.artifact_uri}/model"


@pytest.fixture()
def registry(
    packed_run: tuple[MlflowClient, str, str], request: pytest.FixtureRequest
) -> tuple[MlflowClient, str, str]:
    """A fresh registered model (one per test) with version 1 serving the packed policy."""
    client, run_id, source = packed_run
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    name = f"{NAME}-{request.node.name}"[:200]
    client.create_registered_model(name)
    version = client.create_model_version(name, source, run_id=run_id)
    client.set_model_version_tag(name, version.version, APPLIED_POLICY_TAG, PACKED.version)
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return client, name, str(version.version)


def test_saved_policy_is_versioned_recorded_and_not_served_until_applied(
    registry: tuple[MlflowClient, str, str],
) -> None:
    client, name, version = registry
    store = PolicyStore(name, client)
    assert store.packaged_policy(version) == PACKED
    chosen = TierPolicy(sql_threshold=0.4, mql_threshold=0.2)
    stored = store.save(
        version,
        chosen,
        targets={"sql_capacity": 25},
        figures={"tiers": {"SQL": {"leads_per_week": 24.6}}},
        reason="two new SDRs start in March",
        author="ops@example.com",
        files={"thresholds.csv": "threshold,share\n0.4,0.05\n"},
    )
    assert stored.version == "2"
    assert (stored.policy.sql_threshold, stored.policy.mql_threshold) == (0.4, 0.2)
    # Recorded with who, why and what, in the registry and as artifacts of the run.
    again = store.get(version, "2")
    assert again.author == "ops@example.com"
    assert again.reason == "two new SDRs start in March"
    assert again.targets == {"sql_capacity": 25.0}
    run_id = client.get_model_version(name, version).run_id
    files = {f.path for f in client.list_artifacts(run_id, "tier_policies/v2")}
    assert files == {"tier_policies/v2/policy.json", "tier_policies/v2/thresholds.csv"}
    # Saving is not applying.
    assert store.served_policy(version, PACKED) == PACKED
    assert store.next_version(version) == "3"


def test_applying_serves_it_and_rollback_restores_the_packed_policy(
    registry: tuple[MlflowClient, str, str],
) -> None:
    client, name, version = registry
    store = PolicyStore(name, client)
    first = store.save(version, TierPolicy(0.5, 0.2))
    second = store.save(version, TierPolicy(0.6, 0.25))
    assert [p.version for p in store.history(version)] == ["2", "3"]
    store.apply(version, second.version, author="ops")
    assert store.applied_version(version) == "3"
    served = store.served_policy(version, PACKED)
    assert (served.version, served.sql_threshold) == ("3", 0.6)
    store.apply(version, first.version)
    assert store.served_policy(version, PACKED).sql_threshold == 0.5
    store.apply(version, "1")
    assert store.served_policy(version, PACKED) == PACKED
    with pytest.raises(PolicyNotFound):
        store.apply(version, "9")
    with pytest.raises(PolicyNotFound):
        store.get(version, "9")


def test_watcher_picks_up_an_applied_policy_without_a_restart(
    registry: tuple[MlflowClient, str, str],
) -> None:
    client, name, version = registry
    store = PolicyStore(name, client)
    now = [0.0]
    watcher = PolicyWatcher(store, version, PACKED, interval_s=30, clock=lambda: now[0])
    assert watcher.refresh_if_due() is None  # first check: still the packed policy
    stored = store.save(version, TierPolicy(0.45, 0.15))
    store.apply(version, stored.version)
    now[0] = 10.0
    assert watcher.refresh_if_due() is None  # not due yet: the registry is not asked
    assert watcher.policy == PACKED
    now[0] = 31.0
    changed = watcher.refresh_if_due()
    assert changed is not None and changed.version == stored.version
    assert watcher.policy.sql_threshold == 0.45
    assert watcher.refresh() is None  # unchanged since


def test_watcher_keeps_serving_when_the_registry_fails() -> None:
    class Broken:
        def get_model_version(self, name: str, version: str) -> None:
            raise ConnectionError("registry down")

    watcher = PolicyWatcher(PolicyStore(NAME, Broken()), "1", PACKED)
    with pytest.raises(PolicyCheckFailed, match="registry down") as failed:
        watcher.refresh()
    assert failed.value.unreadable
    assert watcher.policy == PACKED


def test_resolve_model_version(registry: tuple[MlflowClient, str, str]) -> None:
    client, name, version = registry
    assert resolve_model_version(f"models:/{name}@champion", client) == (name, version)
    assert resolve_model_version(f"models:/{name}/{version}", client) == (name, version)
    with pytest.raises(ValueError, match="registered model"):
        resolve_model_version("runs:/abc/model", client)
