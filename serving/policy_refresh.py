"""Keeping a worker's tier policy in step with the registry, without slowing scoring down.

Registry calls run on their own small thread pool (a slow registry once took every thread
scoring needed for its prediction-log writes) and give up after the registry timeout. The
background check (when due, off the request path) and POST /reload never run at once: they
share one lock. A failed check keeps the policy served and says why: /reload answers it, the
background check logs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread

from models.tiers import TierPolicy
from ops.policy_store import PolicyCheckFailed, PolicyStore, PolicyWatcher

log = logging.getLogger("leadscore.serving")

REGISTRY_THREADS = 2


def policy_watcher_for(
    name: str, version: str, packaged: TierPolicy, tracking_uri: str, interval_s: float
) -> PolicyWatcher | None:
    """A watcher of the tier policy applied to a served registry version (not checked yet).

    None when refreshing is off, the model is no registry version, or the registry is a local
    SQLite file that is not there (a bento carried away from its MLflow store).
    """
    if interval_s <= 0 or not version.isdigit():
        return None
    if (
        tracking_uri.startswith("sqlite:///")
        and not Path(tracking_uri.removeprefix("sqlite:///")).exists()
    ):
        return None
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return PolicyWatcher(PolicyStore(name, client), version, packaged, interval_s=interval_s)


class PolicyRefresher:
    """Runs a `PolicyWatcher`'s checks and hands a changed policy to `apply`."""

    def __init__(
        self,
        watcher: PolicyWatcher,
        apply: Callable[[TierPolicy], None],
        timeout_s: float,
    ) -> None:
        self.watcher = watcher
        self.apply = apply
        self.timeout_s = timeout_s
        self._lock: asyncio.Lock | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        """Check now; True when the served policy changed. Raises PolicyCheckFailed."""
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._limiter = anyio.CapacityLimiter(REGISTRY_THREADS)
        watcher = self.watcher
        async with self._lock:
            try:
                with anyio.fail_after(self.timeout_s):
                    # Abandoned on timeout: a read-only call, its thread ends on its own.
                    policy = await anyio.to_thread.run_sync(
                        watcher.check, abandon_on_cancel=True, limiter=self._limiter
                    )
            except TimeoutError:
                raise PolicyCheckFailed(
                    f"the registry did not answer within {self.timeout_s:g} s; still serving "
                    f"tier policy {watcher.policy.version}",
                    unreadable=True,
                ) from None
            if not watcher.adopt(policy):
                return False
            self.apply(policy)
            return True

    def tick(self) -> None:
        """Start a background check when one is due and none is running (never waits)."""
        if self._task is None and self.watcher.due() and not (self._lock and self._lock.locked()):
            self._task = asyncio.get_running_loop().create_task(self._in_background())

    async def _in_background(self) -> None:
        try:
            await self.refresh()
        except PolicyCheckFailed as exc:
            log.warning("tier policy check: %s", exc)
        finally:
            self._task = None
