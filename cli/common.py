"""What every command shares: the consoles, the common options, reading an export or exiting."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Export folder (leads, activities, opportunities) or, for train, a single table.",
    ),
]

AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", help="Cut-off (UTC); default: the export's last timestamp."),
]

ModelOption = Annotated[
    str,
    typer.Option("--model", help="MLflow model URI.", envvar="LEADSCORE_MODEL_URI"),
]


def read_or_exit(data: Path) -> Any:
    """The export read from `data`, or every problem printed and exit code 1."""
    from training.export import ExportError, read_export

    try:
        return read_export(data)
    except ExportError as exc:
        exc.print(err_console)
        raise typer.Exit(code=1) from None


def as_utc(value: datetime | None) -> pd.Timestamp | None:
    from features.contract import utc_naive

    return None if value is None else utc_naive(value)


def split_list(text: str) -> tuple[str, ...]:
    """A comma-separated option as its non-blank parts."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
