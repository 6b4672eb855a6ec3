"""Micro-batching: concurrent requests in one worker share one featurizer and LightGBM call.

A single-lead score spends most of its time in fixed per-call costs (building frames, numpy
set-up), so eight clients waiting for eight separate calls is much slower than one call for
eight leads. The batcher does not wait to fill batches: whatever queued up while the previous
batch was scored forms the next one, so an idle service answers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from serving.engine import ActivityColumns, EngineScores

log = logging.getLogger(__name__)

# Up to this many leads are scored on the event loop itself (cheaper than a thread hand-off);
# bigger batches go to a thread so health checks and request parsing keep flowing.
INLINE_LEADS = 64
MAX_BATCH_LEADS = 2_000
# Before a batch, the loop turns until no request joined the queue for two turns: requests
# already received get parsed and join, without a timer that would delay a lone request.
MAX_GATHER_TURNS = 16


class Engine(Protocol):
    """What scores a batch: `serving.engine.ScoringEngine`, or `serving.table.TableEngine`."""

    def score(
        self,
        leads: Sequence[Any],
        as_of: Sequence[datetime],
        explain: bool,
        activities: ActivityColumns | None = None,
    ) -> EngineScores: ...


@dataclass
class _Job:
    leads: Sequence[Any]
    as_of: Sequence[datetime]
    explain: bool
    activities: ActivityColumns | None
    future: asyncio.Future[EngineScores] = field(repr=False)


def _slice(scores: EngineScores, start: int, stop: int) -> EngineScores:
    return EngineScores(
        probability=scores.probability[start:stop],
        percentile=scores.percentile[start:stop],
        tier=scores.tier[start:stop],
        fit_score=scores.fit_score[start:stop],
        engagement_score=scores.engagement_score[start:stop],
        reasons_positive=scores.reasons_positive[start:stop],
        reasons_negative=scores.reasons_negative[start:stop],
        policy=scores.policy,
    )


class MicroBatcher:
    """Queues scoring jobs and runs them in as few engine calls as the load allows."""

    def __init__(
        self,
        engine: Engine,
        max_batch_leads: int = MAX_BATCH_LEADS,
        inline_leads: int = INLINE_LEADS,
    ) -> None:
        self.engine = engine
        self.max_batch_leads = max_batch_leads
        self.inline_leads = inline_leads
        self._queue: deque[_Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.batched_jobs = 0

    async def score(
        self,
        leads: Sequence[Any],
        as_of: Sequence[datetime],
        explain: bool,
        activities: ActivityColumns | None = None,
    ) -> EngineScores:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run(), name="leadscore-batcher")
        job = _Job(leads, as_of, explain, activities, loop.create_future())
        self._queue.append(job)
        assert self._wakeup is not None
        self._wakeup.set()
        return await job.future

    def take_counts(self) -> tuple[int, int]:
        """(batches, requests in them) since the last call."""
        counts = (self.batches, self.batched_jobs)
        self.batches = self.batched_jobs = 0
        return counts

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _take(self) -> list[_Job]:
        """Jobs for the next batch: the oldest job, then others with the same explain flag."""
        first = self._queue.popleft()
        taken = [first]
        total = len(first.leads)
        kept: deque[_Job] = deque()
        while self._queue:
            job = self._queue.popleft()
            if job.explain == first.explain and total + len(job.leads) <= self.max_batch_leads:
                taken.append(job)
                total += len(job.leads)
            else:
                kept.append(job)
        self._queue.extendleft(reversed(kept))
        return taken

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._gather()
                jobs = [job for job in self._take() if not job.future.cancelled()]
                if jobs:
                    await self._score_jobs(jobs)

    async def _gather(self) -> None:
        """Let requests that have arrived reach the queue before the batch is cut."""
        seen, quiet = len(self._queue), 0
        for _ in range(MAX_GATHER_TURNS):
            await asyncio.sleep(0)
            if len(self._queue) == seen:
                quiet += 1
                if quiet == 2:
                    return
            else:
                seen, quiet = len(self._queue), 0

    async def _score_jobs(self, jobs: list[_Job]) -> None:
        leads = [lead for job in jobs for lead in job.leads]
        as_of = [when for job in jobs for when in job.as_of]
        explain = jobs[0].explain
        known = [(job.activities, len(job.leads)) for job in jobs if job.activities is not None]
        # Every request's activities were read already (the service's case), or none are.
        activities = ActivityColumns.concat(known) if len(known) == len(jobs) else None
        self.batches += 1
        self.batched_jobs += len(jobs)
        try:
            if len(leads) <= self.inline_leads:
                scores = self.engine.score(leads, as_of, explain, activities)
            else:
                scores = await asyncio.to_thread(
                    self.engine.score, leads, as_of, explain, activities
                )
        except Exception as exc:
            if len(jobs) > 1:
                # Score each request alone, so one request's failure stays its own.
                for job in jobs:
                    await self._score_jobs([job])
                return
            if not jobs[0].future.done():
                jobs[0].future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            stop = start + len(job.leads)
            if not job.future.done():
                job.future.set_result(_slice(scores, start, stop))
            start = stop
