"""Running partitions on a Dask cluster: `--cluster local:N` or `--cluster tcp://host:port`.

Work is shipped as one task per lead partition (`features.partition`): the task runs the same
function the single-process path runs (featurizing a partition, scoring a partition), so the
two paths cannot drift apart. Tasks are pure functions of their inputs and retried when a
worker dies (`RETRIES`); at most `in_flight_per_worker` tasks per worker are outstanding, so
the client never holds more than that many partitions' inputs and results at once.
"""

from __future__ import annotations

import itertools
import logging
import warnings
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


class ClusterMap:
    """A `map` that runs each call as a task on the cluster; results come as tasks finish.

    `parallelism` (the worker count) tells callers how many partitions keep every worker busy.
    Partitions travel inside their tasks on purpose (dask warns about "large graphs" for it):
    a task retried after its worker died then still has its input, which data scattered to
    that worker would not.
    """

    def __init__(self, client: Any, in_flight_per_worker: int = IN_FLIGHT_PER_WORKER) -> None:
        self.client = client
        self.parallelism = max(len(client.scheduler_info()["workers"]), 1)
        self.limit = max(1, in_flight_per_worker * self.parallelism)

    def __call__(self, function: Callable[[In], Out], items: Iterable[In]) -> Iterator[Out]:
        from distributed import as_completed

        pending = iter(items)
        running = as_completed()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            for item in itertools.islice(pending, self.limit):
                running.add(self._submit(function, item))
            for future in running:
                result = future.result()
                future.release()
                for item in itertools.islice(pending, 1):
                    running.add(self._submit(function, item))
                yield result

    def _submit(self, function: Callable[[In], Out], item: In) -> Any:
        return self.client.submit(function, item, pure=False, retries=RETRIES)


def cluster_map(client: Any, in_flight_per_worker: int = IN_FLIGHT_PER_WORKER) -> ClusterMap:
    """The `map` of `client`'s cluster (see ClusterMap)."""
    return ClusterMap(client, in_flight_per_worker)
