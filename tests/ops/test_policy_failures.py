"""Tier-policy failures are refused or reported, never silent (issue 11, finding 9)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from mlflow import MlflowClient

from models.registry import APPLIED_POLICY_TAG
from models.tiers import TierPolicy
from ops.policy_store import (
    POLICY_TAG_PREFIX,
    InvalidPolicy,
    PolicyCheckFailed,
    PolicyNotFound,
    PolicyStore,
    PolicyWatcher,
)
from tests.ops.test_policy_store import PACKED, packed_run, registry

__all__ = ["packed_run", "registry"]  # fixtures used here


def _write_record(
    client: MlflowClient, name: str, version: str, number: str, sql: float, mql: float
) -> None:
    """A policy record as anyone with registry write access could tag it, checks bypassed."""
    record = {
        "policy": {"sql_threshold": sql, "mql_threshold": mql, "version": number, "basis": {}},
        "model_name": name,
        "model_version": version,
    }
    client.set_model_version_tag(name, version, f"{POLICY_TAG_PREFIX}{number}", json.dumps(record))


def test_applying_an_invalid_policy_is_refused(registry: tuple[MlflowClient, str, str]) -> None:
    client, name, version = registry
    _write_record(client, name, version, "2", sql=0.2, mql=0.6)  # MQL above SQL
    store = PolicyStore(name, client)
    with pytest.raises(InvalidPolicy, match="tier policy 2"):
        store.apply(version, "2")
    assert store.applied_version(version) == PACKED.version


def test_an_applied_invalid_record_keeps_the_served_policy(
    registry: tuple[MlflowClient, str, str],
) -> None:
    client, name, version = registry
    store = PolicyStore(name, client)
    good = store.save(version, TierPolicy(0.5, 0.2))
    store.apply(version, good.version)
    watcher = PolicyWatcher(store, version, PACKED)
    assert watcher.refresh() is not None and watcher.policy.version == good.version
    _write_record(client, name, version, "9", sql=0.2, mql=0.6)
    client.set_model_version_tag(name, version, APPLIED_POLICY_TAG, "9")  # forced past `apply`
    with pytest.raises(PolicyCheckFailed, match="not a valid tier policy") as failed:
        watcher.refresh()
    assert not failed.value.unreadable
    assert watcher.policy.version == good.version


def test_a_tag_naming_a_missing_policy_keeps_the_current_one_and_says_so(
    registry: tuple[MlflowClient, str, str],
) -> None:
    client, name, version = registry
    store = PolicyStore(name, client)
    chosen = store.save(version, TierPolicy(0.45, 0.15))
    store.apply(version, chosen.version)
    watcher = PolicyWatcher(store, version, PACKED)
    watcher.refresh()
    assert watcher.policy.version == chosen.version
    client.set_model_version_tag(name, version, APPLIED_POLICY_TAG, "7")  # no record 7
    with pytest.raises(PolicyNotFound):
        store.served_policy(version, PACKED)
    with pytest.raises(PolicyCheckFailed, match="applied tier policy 7 has no record"):
        watcher.refresh()
    # Not rolled back to the packed policy 1: the one served stays.
    assert watcher.policy.version == chosen.version


def test_reload_and_background_check_never_overlap(registry: tuple[MlflowClient, str, str]) -> None:
    """Two checks started together run one after the other (PolicyRefresher's lock)."""
    import asyncio

    from serving.policy_refresh import PolicyRefresher

    client, name, version = registry
    store = PolicyStore(name, client)
    applied: list[TierPolicy] = []
    running = [0, 0]  # now, most at once
    lock = threading.Lock()

    class Watched(PolicyWatcher):
        def check(self) -> TierPolicy:
            with lock:
                running[0] += 1
                running[1] = max(running)
            time.sleep(0.2)
            try:
                return super().check()
            finally:
                with lock:
                    running[0] -= 1

    refresher = PolicyRefresher(Watched(store, version, PACKED), applied.append, timeout_s=10)

    async def both() -> None:
        refresher.tick()  # the background check, due at once
        await asyncio.gather(refresher.refresh(), refresher.refresh())
        while refresher._task is not None:
            await asyncio.sleep(0.01)

    asyncio.run(both())
    assert running[1] == 1


def test_a_registry_that_does_not_answer_fails_the_check_in_time(
    registry: tuple[MlflowClient, str, str],
) -> None:
    import asyncio

    from serving.policy_refresh import PolicyRefresher

    client, name, version = registry

    class Slow(PolicyWatcher):
        def check(self) -> TierPolicy:
            time.sleep(3)
            return super().check()

    refresher = PolicyRefresher(Slow(PolicyStore(name, client), version, PACKED), print, 0.5)
    started = time.monotonic()
    with pytest.raises(PolicyCheckFailed, match=r"did not answer within 0\.5 s"):
        asyncio.run(refresher.refresh())
    assert time.monotonic() - started < 2
