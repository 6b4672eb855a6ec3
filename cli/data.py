"""`leadscore validate` and `leadscore demo-data`: check an export, write a demo one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import DataOption, console, data_location, err_console
from cli.progress import stage_progress


def validate(data: DataOption) -> None:
    """Check an export against the data contract; print every problem found.

    The activities are read a batch at a time (training needs them whole; checking does not),
    so an export of any size can be checked on a small machine.
    """
    from training.export import ExportError, check_export

    try:
        checked = check_export(data_location(str(data)))
    except ExportError as exc:
        exc.print(err_console)
        raise typer.Exit(code=1) from None
    checked.print_summary(console)


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
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (one file per table) or parquet (a folder of files per table, partitioned "
            "by lead and written in batches of leads: millions of leads in bounded memory).",
        ),
    ] = "csv",
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
    if fmt == "parquet":
        _streamed_demo_data(config, out)
        return
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


def _streamed_demo_data(config: Any, out: Path) -> None:
    from demo.stream import write_streamed_world

    with stage_progress(console, f"Simulating {config.n_leads:,} buyer journeys in batches"):
        written = write_streamed_world(config, out)
    console.print(
        f"Wrote {written.leads:,} leads, {written.activities:,} activities, "
        f"{written.opportunities:,} opportunities to [bold]{out}[/bold] as partitioned parquet "
        f"(cut-off {config.as_of:%Y-%m-%d})."
    )
    console.print(
        f"truth.csv: {written.open_leads:,} open leads, mean p_true "
        f"{written.p_true_sum / max(written.open_leads, 1):.4f}, won within "
        f"{config.horizon_days} days {written.won / max(written.open_leads, 1):.4f}."
    )
    for folder in ("leads", "activities", "opportunities"):
        console.print(f"  {out / folder}/")
    console.print(f"  {out / 'truth.csv'}")
