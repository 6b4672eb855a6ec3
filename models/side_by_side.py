"""Independent fits side by side, one core each, instead of each fit on every core in turn.

LightGBM's trees of a few leaves parallelise poorly: its threads meet at a barrier several
times per boosting round, so two threads finish a fit far less than twice as fast as one, and
on a busy machine (a core taken by another process) much slower than one. BLAS threads in a
logistic fit are alike. Two independent fits on one core each keep both cores busy instead.

LightGBM's trees do not depend on its thread count here (`deterministic`, histograms summed the
same way on any number of threads: tests/models/test_side_by_side.py compares the trees), and
a BLAS thread count moves a logistic fit's coefficients only by rounding (about 1e-14), so a
model fitted side by side is the model fitted one piece at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")


def side_by_side(tasks: Sequence[Callable[[], T]], cores: int) -> list[T]:
    """Each task's result, in order; at most `cores` tasks at a time, each on one core.

    Threads, not processes: LightGBM and numpy release the GIL in their compiled loops, and
    the feature frames are shared instead of copied. While tasks run side by side, BLAS and
    OpenMP pools are held to one thread each (process-wide: nothing else fits meanwhile); a
    task that starts LightGBM itself asks for `threads_each(cores, len(tasks))` threads.
    """
    if cores <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with (
        threadpool_limits(limits=1),
        ThreadPoolExecutor(max_workers=min(cores, len(tasks))) as pool,
    ):
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]


def threads_each(cores: int, n_tasks: int) -> int:
    """Threads for each of `n_tasks` run side by side on `cores`: the cores they share."""
    return max(1, cores // max(1, min(cores, n_tasks)))
