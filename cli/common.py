"""What every command shares: the consoles, the common options, reading an export or exiting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="Export folder or URL (file://, s3://, gs://, abfs://: leads, activities, "
        "opportunities, each a csv/parquet file or a folder of them) or, for train, a single "
        "table.",
    ),
]


def data_location(data: str) -> Path | str:
    """A local path as a Path; an fsspec URL (``scheme://...``) as given."""
    return data if "://" in data else Path(data)


AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", help="Cut-off (UTC); default: the export's last timestamp."),
]

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="MLflow model URI; default LEADSCORE_MODEL_URI, else the @champion of "
        "LEADSCORE_MODEL_NAME.",
        show_default=False,
    ),
]


def model_or_default(model: str | None) -> str:
    """The model a command works on: the one given, else the registry's default."""
    from models.registry import default_model_uri

    return model or default_model_uri()


def read_or_exit(data: Path | str, whole: bool = True) -> Any:
    """The export read from `data`, or every problem printed and exit code 1 (`whole=False`:
    without the columns no model reads, see `read_export`)."""
    from training.export import ExportError, read_export

    try:
        return read_export(data_location(str(data)), whole=whole)
    except ExportError as exc:
        exc.print(err_console)
        raise typer.Exit(code=1) from None


def as_utc(value: datetime | None) -> pd.Timestamp | None:
    from features.contract import utc_naive

    return None if value is None else utc_naive(value)


def split_list(text: str) -> tuple[str, ...]:
    """A comma-separated option as its non-blank parts."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run the per-partition work on Dask: local:N (a local cluster of N worker "
        "processes on 127.0.0.1) or tcp://HOST:PORT (a running scheduler). Default: this process.",
    ),
]


@contextmanager
def partition_runner(cluster: str | None) -> Iterator[Any]:
    """`map` without --cluster; with it, a map that runs each partition as a Dask task."""
    if cluster is None:
        yield map
        return
    from training.cluster import cluster_client, cluster_map, parse_address

    try:
        parse_address(cluster)
    except ValueError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    with cluster_client(cluster) as client:
        workers = len(client.scheduler_info()["workers"])
        dashboard = client.dashboard_link if client.dashboard_link else "none"
        console.print(
            f"Dask: {workers} workers at {client.scheduler.address} (dashboard {dashboard})"
        )
        yield cluster_map(client)
