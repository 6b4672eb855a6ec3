"""Memory back to the system after large requests.

A request near the body limit allocates hundreds of MB (the body, parsed leads, feature
matrices). CPython and glibc keep freed memory in their heaps for reuse, so a worker's size
stayed at its peak after a burst (finding 3 of issue 11). `leadscore serve` starts workers with
fixed glibc thresholds (`serving.launch.MALLOC_SETTINGS`); on top of that, when the last
large request in flight has finished, `give_back` asks glibc to return free heap pages now.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# Requests with a body this large are followed by `give_back` once none is in flight.
LARGE_BODY_BYTES = 1 << 20


def _malloc_trim() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return free heap memory to the system (glibc's malloc_trim; a few ms)."""
    if _TRIM is not None:
        _TRIM(0)  # type: ignore[operator]
