"""`leadscore thresholds` and `leadscore report`: tier thresholds for capacity, the closed loop."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    AsOfOption,
    DataOption,
    ModelOption,
    as_utc,
    console,
    err_console,
    model_or_default,
    read_or_exit,
)
from cli.progress import stage_progress


def thresholds(
    model: ModelOption = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A fresh labelled export instead of the model's holdout."),
    ] = None,
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        int | None,
        typer.Option("--horizon-days", min=1, help="With --data: default the model's horizon."),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days", min=7, help="With --data: days of leads evaluated (default holdout)."
        ),
    ] = None,
    sql_capacity: Annotated[
        float | None, typer.Option("--sql-capacity", min=0, help="SQLs per week sales can work.")
    ] = None,
    sql_precision: Annotated[
        float | None, typer.Option("--sql-precision", help="SQL conversion rate at least (0-1).")
    ] = None,
    sql_share: Annotated[
        float | None, typer.Option("--sql-share", help="Share of leads in SQL at most (0-1).")
    ] = None,
    mql_recall: Annotated[
        float | None,
        typer.Option("--mql-recall", help="Share of conversions at MQL or above at least (0-1)."),
    ] = None,
    mql_share: Annotated[
        float | None, typer.Option("--mql-share", help="Share of leads in MQL at most (0-1).")
    ] = None,
    min_leads: Annotated[
        float, typer.Option("--min-leads", min=0, help="Leads a precision must rest on.")
    ] = 20.0,
    leads_per_week: Annotated[
        float | None,
        typer.Option("--leads-per-week", min=0, help="Forecast lead inflow (default: measured)."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why: kept with the policy.")] = "",
    apply: Annotated[
        bool, typer.Option("--apply", help="Serve the new policy with this model version.")
    ] = False,
    apply_version: Annotated[
        str | None,
        typer.Option("--apply-version", help="Serve an earlier policy version (e.g. roll back)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do not record a policy.")] = False,
    report: Annotated[
        Path, typer.Option("--report", help="Where to write the HTML report page.")
    ] = Path("thresholds_report.html"),
) -> None:
    """Volume, precision and recall per threshold; pick tier thresholds for capacity targets."""
    model = model_or_default(model)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from rich import box
    from rich.table import Table

    from models.registry import TrackingConfig, resolve_model_version
    from ops.policy_store import PolicyNotFound, PolicyStore
    from ops.targets import ThresholdTargets, candidate_table
    from ops.thresholds import calibrate_thresholds

    TrackingConfig.from_env().activate()
    client = MlflowClient()
    if apply_version is not None:
        try:
            name, version = resolve_model_version(model, client)
            PolicyStore(name, client).apply(version, apply_version)
        except (PolicyNotFound, MlflowException, ValueError) as exc:
            err_console.print(f"[red]Cannot apply policy {apply_version}:[/red] {exc}")
            raise typer.Exit(code=1) from None
        console.print(f"{name} version {version} now serves tier policy {apply_version}.")
        return
    try:
        targets = ThresholdTargets(
            sql_capacity, sql_precision, sql_share, mql_recall, mql_share, min_leads
        )
    except ValueError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    if apply and (dry_run or not targets.given()):
        err_console.print(
            "[red]--apply serves the policy recorded from targets: give at least one target and "
            "leave out --dry-run (or use --apply-version to serve a recorded one).[/red]"
        )
        raise typer.Exit(code=2)
    export = read_or_exit(data).export if data is not None else None
    try:
        with stage_progress(console, "Scoring the evaluation period and solving for the targets"):
            result = calibrate_thresholds(
                model,
                targets,
                export=export,
                as_of=as_utc(as_of),
                horizon_days=horizon_days,
                window_days=window_days,
                leads_per_week=leads_per_week,
                reason=reason,
                save=not dry_run,
                apply=apply,
                client=client,
            )
    except (MlflowException, ValueError, OSError) as exc:
        err_console.print(f"[red]Cannot evaluate thresholds for {model}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    facts, evaluation = result.facts, result.data
    console.print(
        f"{facts.name} version {facts.version} on {evaluation.source}: "
        f"{evaluation.n_leads:,.0f} leads, conversion {evaluation.base_rate:.2%}, inflow "
        f"{evaluation.leads_per_week:,.1f} leads per week ({evaluation.inflow_source})."
    )
    table = Table(
        title="Candidate thresholds (per week = lead inflow x share above)",
        box=box.SIMPLE_HEAD,
    )
    shown = candidate_table(result.curve, result.choice)
    headers = {
        "chosen": "",
        "threshold": "threshold",
        "share": "share",
        "leads_per_week": "per week",
        "precision": "precision",
        "recall": "recall",
        "lift": "lift",
        "won_per_week": "won/wk",
    }
    for key, title in headers.items():
        table.add_column(title, justify="left" if key == "chosen" else "right")
    for row in shown.itertuples(index=False):
        table.add_row(
            str(row.chosen),
            f"{row.threshold:.4f}",
            f"{row.share:.1%}",
            f"{row.leads_per_week:,.1f}",
            f"{row.precision:.1%}",
            f"{row.recall:.1%}",
            f"{row.lift:.2f}",
            f"{row.won_per_week:,.2f}",
            style="bold" if row.chosen else None,
        )
    console.print(table)
    choice = result.choice
    for outcome in choice.outcomes:
        colour = "green" if outcome.met else "red"
        console.print(f"[{colour}]{outcome.describe()}[/{colour}]")
    for note in [*choice.notes, *result.caveats]:
        console.print(f"[yellow]{note}[/yellow]")
    console.print(
        f"SQL threshold {result.policy.sql_threshold:.4f}, MQL threshold "
        f"{result.policy.mql_threshold:.4f} (current policy {facts.current.version}: SQL "
        f"{facts.current.sql_threshold:.4f}, MQL {facts.current.mql_threshold:.4f})."
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(result.report_html, encoding="utf-8")
    console.print(f"Report: {report}")
    if result.saved_version is None:
        console.print("No policy recorded (give a target, and leave out --dry-run, to record one).")
        return
    console.print(
        f"Recorded tier policy {result.saved_version} for {facts.name} version {facts.version}"
        + (
            "; applied: it is served with this version from now on."
            if result.applied
            else f"; serve it with --apply-version {result.saved_version}."
        )
    )


def report(
    data: DataOption,
    predictions: Annotated[
        str | None,
        typer.Option(
            "--predictions",
            help="Prediction log: database URL, SQLite file, or .parquet/.csv dump "
            "[default: LEADSCORE_PREDICTION_LOG].",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        int | None, typer.Option("--horizon-days", min=1, help="Default: the model's horizon.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model for drift (default: the most logged version)."),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only scores returned from then (UTC).")
    ] = None,
    psi_threshold: Annotated[
        float, typer.Option("--psi-threshold", min=0, help="Flag drift above this PSI.")
    ] = 0.2,
    no_drift: Annotated[bool, typer.Option("--no-drift", help="Skip the drift section.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path(
        "closed_loop_report.html"
    ),
) -> None:
    """Closed loop: logged scores joined with a later export's outcomes; drift; MLflow metrics."""
    from models.registry import TrackingConfig
    from models.settings import load_settings

    predictions = predictions or load_settings().prediction_log
    if not predictions:
        err_console.print("[red]Give --predictions or set LEADSCORE_PREDICTION_LOG.[/red]")
        raise typer.Exit(code=2)
    from ops.closed_loop import summary_lines
    from ops.closed_loop_run import ClosedLoopError, LoopOptions, run_closed_loop_report

    read = read_or_exit(data)
    try:
        with stage_progress(console, "Joining logged scores with outcomes, measuring drift"):
            outcome = run_closed_loop_report(
                predictions,
                read.export,
                Path(data),
                TrackingConfig.from_env(),
                LoopOptions(
                    cutoff=as_utc(as_of),
                    horizon_days=horizon_days,
                    model_uri=model,
                    since=as_utc(since),
                    psi_threshold=psi_threshold,
                    with_drift=not no_drift,
                ),
            )
    except ClosedLoopError as exc:
        err_console.print(f"[red]Cannot report:[/red] {exc}")
        raise typer.Exit(code=1) from None
    for line in summary_lines(outcome.result):
        console.print(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(outcome.html, encoding="utf-8")
    console.print(f"Report: {out}; MLflow run {outcome.run_id}")
