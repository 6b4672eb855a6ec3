"""`leadscore validate` and `leadscore demo-data`: check an export, write a demo one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DataOption, console, err_console, read_or_exit


def validate(data: DataOption) -> None:
    """Check an export against the data contract; print every problem found."""
    read_or_exit(data).print_summary(console)


def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the demo export into.")],
    leads: Annotated[
        int | None,
        typer.Option("--leads", min=100, help="Number of leads (default: the world's size)."),
    ] = None,
    world_name: Annotated[
        str,
        typer.Option(
            "--world",
            help="Which demo world: default, quick_close, enterprise, behavioural, drifting, "
            "seasonal, sparse, custom_crm, small (docs/demo-world.md).",
        ),
    ] = "default",
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
    from dataclasses import replace

    from demo.variants import world_config
    from demo.world import generate_demo_world, write_demo_world

    try:
        config = replace(world_config(world_name, leads, seed), horizon_days=horizon_days)
    except ValueError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    if as_of is not None:
        config = config.with_as_of(as_of)
    with console.status(f"Simulating {config.n_leads:,} buyer journeys ({world_name} world)..."):
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
