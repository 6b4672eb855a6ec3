"""`leadscore validate` and `leadscore demo-data`: check an export, write a demo one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DataOption, console, read_or_exit


def validate(data: DataOption) -> None:
    """Check an export against the data contract; print every problem found."""
    read_or_exit(data).print_summary(console)


def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the demo export into.")],
    leads: Annotated[int, typer.Option("--leads", min=100, help="Number of leads.")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Export cut-off (UTC); default 2026-06-30."),
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Days after as_of for `won`.")
    ] = 90,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a realistic demo CRM export with its exact conversion probabilities."""
    from demo.world import DemoConfig, generate_demo_world, write_demo_world

    config = DemoConfig(n_leads=leads, seed=seed, horizon_days=horizon_days)
    if as_of is not None:
        config = config.with_as_of(as_of)
    with console.status(f"Simulating {leads:,} buyer journeys..."):
        world = generate_demo_world(config)
    paths = write_demo_world(world, out, fmt=fmt)
    truth = world.truth
    console.print(
        f"Wrote {len(world.export.leads):,} leads, {len(world.export.activities):,} activities, "
        f"{len(world.export.opportunities):,} opportunities to [bold]{out}[/bold] "
        f"(cut-off {config.as_of:%Y-%m-%d})."
    )
    console.print(
        f"truth.csv: {len(truth):,} open leads, mean p_true {truth['p_true'].mean():.4f}, "
        f"won within {horizon_days} days {truth['won'].mean():.4f}."
    )
    for path in paths:
        console.print(f"  {path}")
