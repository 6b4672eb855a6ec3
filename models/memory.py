"""Freed memory back to the system: glibc keeps freed blocks in its heaps for reuse.

A request near the service's body limit, or a stage of a training run (a linear design, sklearn's
stacked baseline design, LightGBM's buffers), frees hundreds of MB. glibc keeps such blocks in
its heaps, so the process stays at its largest stage's size plus what the next stage adds.
`give_back` asks glibc to return the free pages now (a few ms; elsewhere than glibc nothing), and
Arrow's memory pool (mimalloc or jemalloc, which keep freed pages too) likewise: at the
100,000-lead world, after building features, 0.08 GB of the resident set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa


def _malloc_trim() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return free heap memory to the system (glibc's malloc_trim, Arrow's pool; a few ms)."""
    if _TRIM is not None:
        _TRIM(0)  # type: ignore[operator]
    pa.default_memory_pool().release_unused()
