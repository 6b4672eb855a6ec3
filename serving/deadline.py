"""Calls that must give up in time: a registry that does not answer stops start-up promptly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_within(seconds: float, fn: Callable[[], T]) -> T:
    """`fn()`'s result, or TimeoutError after `seconds` (its exception when it raises).

    The call runs on a daemon thread left behind on timeout: client libraries (MLflow's
    retries, database drivers) offer no way to cancel, and the caller is about to stop or
    carry on without the answer.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller as is
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="leadscore-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
