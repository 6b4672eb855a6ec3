"""Running partitions on a Dask cluster: `--cluster local:N` or `--cluster tcp://host:port`.

Work is shipped as one task per lead partition (`features.partition`): the task runs the same
function the single-process path runs (featurizing a partition, scoring a partition), so the
two paths cannot drift apart. Tasks are pure functions of their inputs and retried when a
worker dies (`RETRIES`); at most `in_flight_per_worker` tasks per worker are outstanding, so
the client never holds more than that many partitions' inputs and results at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

log = logging.getLogger(__name__)

LOCAL_PREFIX = "local:"
RETRIES = 3
IN_FLIGHT_PER_WORKER = 2

In = TypeVar("In")
Out = TypeVar("Out")


def parse_address(address: str) -> tuple[str, int | str]:
    """("local", N workers) or ("remote", scheduler address); ValueError when neither."""
    if address.startswith(LOCAL_PREFIX):
        count = address[len(LOCAL_PREFIX) :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster {address}: use local:N with N worker processes (N >= 1)")
        return "local", int(count)
    if "://" in address:
        return "remote", address
    raise ValueError(
        f"--cluster {address}: use local:N (a LocalCluster of N worker processes) or the "
        "scheduler address, e.g. tcp://10.0.0.5:8786"
    )


@contextmanager
def cluster_client(address: str) -> Iterator[Any]:
    """A dask.distributed Client for `address`; a local cluster is started and stopped here.

    A local cluster binds to 127.0.0.1 with one thread per worker process: the featurizer and
    LightGBM's predictions are NumPy-bound and hold the GIL for much of their work.
    """
    from distributed import Client, LocalCluster

    kind, where = parse_address(address)
    if kind == "local":
        with (
            LocalCluster(
                n_workers=int(where),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.WARNING,
            ) as cluster,
            Client(cluster) as client,
        ):
            log.info(
                "started a local Dask cluster of %s workers: %s", where, cluster.scheduler_address
            )
            yield client
        return
    with Client(str(where)) as client:
        log.info("connected to Dask scheduler %s (dashboard %s)", where, client.dashboard_link)
        yield client


def cluster_map(
    client: Any, in_flight_per_worker: int = IN_FLIGHT_PER_WORKER
) -> Callable[[Callable[[In], Out], Iterable[In]], Iterator[Out]]:
    """A `map` that runs each call as a task on the cluster; results come as tasks finish."""
    from distributed import as_completed

    def mapped(function: Callable[[In], Out], items: Iterable[In]) -> Iterator[Out]:
        limit = max(1, in_flight_per_worker * max(len(client.scheduler_info()["workers"]), 1))
        pending = iter(items)
        running = as_completed()
        for item in pending:
            running.add(client.submit(function, item, pure=False, retries=RETRIES))
            if running.count() >= limit:
                break
        for future in running:
            result = future.result()
            future.release()
            nxt = next(pending, None)
            if nxt is not None:
                running.add(client.submit(function, nxt, pure=False, retries=RETRIES))
            yield result

    return mapped
