"""Stopping a server a test started in its own session (`start_new_session=True`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM to the process's whole group (BentoML's or uvicorn's workers with it), then
    SIGKILL if it has not exited within `grace_s`: no worker outlives the test."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
