"""A circuit breaker on prediction-log writes: an outage is answered at once, and seen.

Every score is committed to the prediction log before it is returned, so while the log
cannot be written no request can be answered. Without a breaker each request waited for the
database's lock timeout and failed, and /readyz kept saying 200, so a load balancer kept
sending traffic. With it, the first failed write opens the breaker for `retry_after_s`: /score
answers 503 with Retry-After at once and /readyz answers 503. Then requests try real writes
again (half-open); a success closes the breaker, a failure opens it again. The cause (locked, disk
full, permission...) is logged when the breaker opens, and again when it changes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

log = logging.getLogger("leadscore.serving")


class LogBreaker:
    """Open while prediction-log writes fail; see the module docstring."""

    def __init__(self, retry_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.cause: str | None = None
        self._open_until = 0.0

    @property
    def open(self) -> bool:
        """Writes failed within the last `retry_after_s`: do not try, answer 503."""
        return self.cause is not None and self.clock() < self._open_until

    def retry_after(self) -> int:
        """Seconds until a write is tried again (for the Retry-After header)."""
        return max(1, math.ceil(self._open_until - self.clock()))

    def failed(self, cause: str) -> None:
        if cause != self.cause:
            log.error(
                "prediction log cannot be written: %s; answering 503 and retrying every %.0f s",
                cause,
                self.retry_after_s,
            )
        self.cause = cause
        self._open_until = self.clock() + self.retry_after_s

    def succeeded(self) -> None:
        if self.cause is not None:
            log.warning("prediction log writes again (was: %s)", self.cause)
        self.cause = None
