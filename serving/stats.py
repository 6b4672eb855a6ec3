"""Counts and latencies of /score requests, logged as a summary now and then (never bodies).

The request gate (`serving.gate`) records every /score request's status and latency; the
endpoint adds the leads it scored.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from serving.batching import MicroBatcher

log = logging.getLogger("leadscore.serving")

STATS_EVERY_SECONDS = 60.0


@dataclass
class RequestStats:
    """Counts and latencies of requests, logged as a summary now and then."""

    every_seconds: float = STATS_EVERY_SECONDS
    requests: int = 0
    leads: int = 0
    client_errors: int = 0
    server_errors: int = 0
    since: float = 0.0

    def __post_init__(self) -> None:
        self.latencies: deque[float] = deque(maxlen=20_000)
        self.since = time.monotonic()
        self.batcher: MicroBatcher | None = None

    def record(self, status: int, seconds: float) -> None:
        self.requests += 1
        if 400 <= status < 500:
            self.client_errors += 1
        elif status >= 500:
            self.server_errors += 1
        self.latencies.append(seconds)
        if time.monotonic() - self.since >= self.every_seconds:
            self.flush()

    def flush(self) -> None:
        if not self.requests:
            return
        p50, p99 = np.percentile(np.asarray(self.latencies), [50, 99]) * 1e3
        batches = self.batcher.take_counts() if self.batcher is not None else (0, 0)
        log.info(
            "score: %d requests, %d leads, %d client errors, %d server errors in %.0f s; "
            "latency p50 %.1f ms, p99 %.1f ms; %d batches of %.1f requests on average",
            self.requests,
            self.leads,
            self.client_errors,
            self.server_errors,
            time.monotonic() - self.since,
            p50,
            p99,
            batches[0],
            batches[1] / max(batches[0], 1),
        )
        self.requests = self.leads = self.client_errors = self.server_errors = 0
        self.latencies.clear()
        self.since = time.monotonic()
