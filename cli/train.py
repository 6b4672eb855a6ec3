"""`leadscore train` and `leadscore promote`: fit, log and register a model; move @champion."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cli.common import (
    ClusterOption,
    DataOption,
    as_utc,
    console,
    data_location,
    err_console,
    partition_runner,
    read_or_exit,
    split_list,
)
from cli.progress import stage_progress

EXPORT_PANEL = "Export (a CRM folder)"
SPLIT_PANEL = "Split and snapshots (export; the defaults suit most exports)"
TABLE_PANEL = "Single table (--data FILE.csv/.parquet)"


def _print_comparison(comparison: pd.DataFrame) -> None:
    """Models side by side, one metric per row, so the table fits a terminal."""
    from rich.table import Table

    table = Table(title="Holdout: models side by side (95% bootstrap intervals)")
    table.add_column("metric")
    for column in comparison.index:
        table.add_column(str(column), justify="right")
    for name, row in comparison.T.iterrows():
        table.add_row(str(name), *[str(v) for v in row])
    console.print(table)


def _print_registration(summary: Any, tracking_uri: str) -> None:
    """The registered version and the gate's decision with its numbers."""
    gate = summary.gate
    console.print(
        f"Registered [bold]{summary.model_name}[/bold] version {summary.version} as "
        f"@challenger; gate: {'promoted to @champion' if gate.promoted else 'not promoted'}"
        f" ({gate.reason})."
    )
    if "compared" in gate.details:
        console.print(f"  compared: {gate.details['compared']}")
    for key, value in gate.metrics.items():
        if key.startswith("compared_") or key.endswith("_leads"):
            shown = f"{value:.0f}"
        else:
            shown = f"{value:.1f}" if key.endswith("_seconds") else f"{value:.4f}"
        console.print(f"  {key}: {shown}")
    console.print(f"MLflow run {summary.run_id} at {tracking_uri}")


def _train_table(
    path: Path,
    label_column: str | None,
    drop: str,
    time_column: str | None,
    row_order_is_time: bool,
    missing_values: str,
    seed: int,
    model_name: str | None,
    force: bool,
) -> None:
    """`leadscore train --data TABLE --label-column COL`: one row per lead with its outcome."""
    from dataclasses import replace

    from models.registry import TrackingConfig
    from training.single_table import train_single_table
    from training.table_input import DROPPED, LABEL, TableConfig
    from training.table_run import log_single_table_run

    if label_column is None:
        err_console.print(
            f"[red]{path} is a single table: give its outcome with --label-column.[/red]"
        )
        raise typer.Exit(code=2)
    try:
        config = TableConfig(
            label_column=label_column,
            drop=split_list(drop),
            time_column=time_column,
            row_order_is_time=row_order_is_time,
            missing_values=split_list(missing_values),
            seed=seed,
        )
        with stage_progress(console, f"Training on {path.name}"):
            result = train_single_table(path, config)
    except ValueError as exc:  # TableError is a ValueError with a message for people
        err_console.print(f"[red]Cannot train:[/red] {exc}")
        raise typer.Exit(code=1) from None
    tracking = TrackingConfig.from_env()
    if model_name:
        tracking = replace(tracking, table_model_name=model_name)
    with console.status("Logging to MLflow and registering the model..."):
        summary = log_single_table_run(result, tracking, force=force)
    _print_comparison(summary.comparison)
    console.print(
        f"Split: {config.split}; rows: {summary.counts}. Trees: {result.best_iteration}, "
        f"calibration: {result.calibration['method']}."
    )
    automatic = {c: r for c, r in summary.excluded.items() if r not in (LABEL, DROPPED)}
    if automatic:
        console.print(
            "Not used as features: " + "; ".join(f"{c} ({r})" for c, r in automatic.items())
        )
    for column, auc in summary.suspected_leaks.items():
        console.print(
            f"[yellow]Suspected leak:[/yellow] {column!r} alone reaches validation ROC AUC "
            f"{auc:.3f}; if it is filled in after contact, --drop it."
        )
    _print_registration(summary, tracking.tracking_uri)


def train(
    data: DataOption,
    drop: Annotated[
        str,
        typer.Option(
            "--drop",
            help=(
                "Comma-separated columns to leave out: for a single table, fields filled in "
                "after contact; for an export, custom lead columns (ids, fields set later)."
            ),
        ),
    ] = "",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    cluster: ClusterOption = None,
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model-name",
            help="Registered model name (default: LEADSCORE_MODEL_NAME, or for a single table "
            "LEADSCORE_TABLE_MODEL_NAME, else lead-conversion-table).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Promote to @champion when too few leads neither model was fitted on allow a "
            "fair comparison (never a challenger found worse; that takes `leadscore promote`).",
        ),
    ] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            help="Cut-off (UTC); default: the export's last timestamp.",
            rich_help_panel=EXPORT_PANEL,
        ),
    ] = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days",
            min=1,
            help="Label: won within this many days.",
            rich_help_panel=EXPORT_PANEL,
        ),
    ] = 90,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit/--no-refit",
            help="Serve a model refitted on train + holdout leads after the evaluation.",
            rich_help_panel=EXPORT_PANEL,
        ),
    ] = True,
    holdout_days: Annotated[
        int,
        typer.Option(
            "--holdout-days",
            min=7,
            help="Latest lead cohort held out.",
            rich_help_panel=SPLIT_PANEL,
        ),
    ] = 120,
    validation_days: Annotated[
        int,
        typer.Option(
            "--validation-days",
            min=7,
            help="Cohort before it, for calibration.",
            rich_help_panel=SPLIT_PANEL,
        ),
    ] = 60,
    every_days: Annotated[
        int,
        typer.Option(
            "--snapshot-every-days",
            min=1,
            help="Days between snapshots.",
            rich_help_panel=SPLIT_PANEL,
        ),
    ] = 14,
    max_snapshots: Annotated[
        int,
        typer.Option(
            "--max-snapshots",
            min=1,
            help="Snapshots per lead at most.",
            rich_help_panel=SPLIT_PANEL,
        ),
    ] = 8,
    label_column: Annotated[
        str | None,
        typer.Option(
            "--label-column",
            help="The outcome column (0/1, yes/no, true/false, won/lost).",
            rich_help_panel=TABLE_PANEL,
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time-column",
            help="Split forward in time by this column.",
            rich_help_panel=TABLE_PANEL,
        ),
    ] = None,
    row_order_is_time: Annotated[
        bool,
        typer.Option(
            "--row-order-is-time",
            help="Rows are in time order; split by it.",
            rich_help_panel=TABLE_PANEL,
        ),
    ] = False,
    missing_values: Annotated[
        str,
        typer.Option(
            "--missing-values",
            help="Comma-separated placeholders read as missing (blanks always are).",
            rich_help_panel=TABLE_PANEL,
        ),
    ] = "Select",
) -> None:
    """Train the calibrated conversion model and baselines; log and register in MLflow."""
    location = data_location(data)
    if label_column is not None or (isinstance(location, Path) and location.is_file()):
        _train_table(
            Path(data),
            label_column,
            drop,
            time_column,
            row_order_is_time,
            missing_values,
            seed,
            model_name,
            force,
        )
        return

    from dataclasses import replace

    from models.registry import TrackingConfig
    from training.labels import SnapshotScheme, SplitConfig
    from training.pipeline import TrainConfig
    from training.pipeline import train as run_pipeline
    from training.run import log_run

    read = read_or_exit(data, whole=False)
    try:
        export = read.export.without_extra_columns(split_list(drop))
    except ValueError as exc:
        err_console.print(f"[red]Cannot train:[/red] {exc}")
        raise typer.Exit(code=1) from None
    config = TrainConfig(
        horizon_days=horizon_days,
        as_of=as_utc(as_of),
        scheme=SnapshotScheme(every_days=every_days, max_snapshots=max_snapshots, seed=seed),
        split=SplitConfig(holdout_days=holdout_days, validation_days=validation_days),
        seed=seed,
        refit=refit,
    )
    with (
        partition_runner(cluster) as cluster_map,
        stage_progress(console, "Training", cluster_map) as map_partitions,
    ):
        try:
            result = run_pipeline(export, config, map_partitions)
        except ValueError as exc:
            err_console.print(f"[red]Cannot train:[/red] {exc}")
            raise typer.Exit(code=1) from None
    tracking = TrackingConfig.from_env()
    if model_name:
        tracking = replace(tracking, model_name=model_name)
    # Against a champion of an earlier cut-off the gate fits the recipe once more as of it.
    with console.status("Logging to MLflow, registering the model and gating it..."):
        summary = log_run(result, export, location, tracking, force=force)
    _print_comparison(summary.comparison)
    console.print(
        f"Snapshots: {summary.counts}. Trees: {result.best_iteration}, "
        f"calibration: {result.calibration['method']}."
    )
    _print_registration(summary, tracking.tracking_uri)


def promote(
    version: Annotated[
        str, typer.Argument(help="Model version to make @champion (e.g. a rollback).")
    ],
    name: Annotated[str, typer.Option("--name", help="Registered model name.")] = "",
) -> None:
    """Force a model version to @champion: promote a challenger or roll back."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models.registry import CHAMPION, TrackingConfig, set_alias

    tracking = TrackingConfig.from_env()
    tracking.activate()
    model_name = name or tracking.model_name
    client = MlflowClient()
    try:
        client.get_model_version(model_name, version)
        try:
            previous = client.get_model_version_by_alias(model_name, CHAMPION).version
        except MlflowException:
            previous = None
        set_alias(client, model_name, CHAMPION, version)
    except MlflowException as exc:
        err_console.print(f"[red]Cannot promote {model_name} version {version}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    console.print(
        f"{model_name}@champion -> version {version}"
        + (f" (was version {previous})" if previous else " (there was no champion)")
    )
