"""The `leadscore` command line: people-facing, so it prints; the packages log."""

from __future__ import annotations

import logging
import os
import warnings
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

app = typer.Typer(
    name="leadscore",
    help="Calibrated, explained lead conversion scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """leadscore: who will buy, why, and whether sales should call now."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # MLflow's hints about schemas and pickling are for library authors, not for people
        # training a model; --verbose shows them.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"mlflow\..*")


DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Export folder (leads, activities, opportunities) or, for train, a single table.",
    ),
]


@app.command()
def validate(data: DataOption) -> None:
    """Check an export against the data contract; print every problem found."""
    from training.export import ExportError, read_export

    try:
        result = read_export(data)
    except ExportError as exc:
        exc.print(err_console)
        raise typer.Exit(code=1) from None
    result.print_summary(console)


@app.command("demo-data")
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


def _read_or_exit(data: Path) -> Any:
    from training.export import ExportError, read_export

    try:
        return read_export(data)
    except ExportError as exc:
        exc.print(err_console)
        raise typer.Exit(code=1) from None


def _as_utc(value: datetime | None) -> pd.Timestamp | None:
    from features.contract import utc_naive

    return None if value is None else utc_naive(value)


AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", help="Cut-off (UTC); default: the export's last timestamp."),
]


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


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _train_table(
    path: Path,
    label_column: str | None,
    drop: str,
    time_column: str | None,
    row_order_is_time: bool,
    missing_values: str,
    seed: int,
) -> None:
    """`leadscore train --data TABLE --label-column COL`: one row per lead with its outcome."""

    from training.single_table import (
        DROPPED,
        LABEL,
        TableConfig,
        log_single_table_run,
        train_single_table,
    )
    from training.tracking import TrackingConfig

    if label_column is None:
        err_console.print(
            f"[red]{path} is a single table: give its outcome with --label-column.[/red]"
        )
        raise typer.Exit(code=2)
    try:
        config = TableConfig(
            label_column=label_column,
            drop=_split_list(drop),
            time_column=time_column,
            row_order_is_time=row_order_is_time,
            missing_values=_split_list(missing_values),
            seed=seed,
        )
        with console.status(f"Reading {path.name}, fitting models..."):
            result = train_single_table(path, config)
    except ValueError as exc:  # TableError is a ValueError with a message for people
        err_console.print(f"[red]Cannot train:[/red] {exc}")
        raise typer.Exit(code=1) from None
    tracking = TrackingConfig.from_env()
    with console.status("Logging to MLflow..."):
        summary = log_single_table_run(result, tracking)
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
    console.print(
        f"MLflow run {summary.run_id} at {tracking.tracking_uri} "
        "(single-table runs register no model, so they never replace the champion)."
    )


@app.command()
def train(
    data: DataOption,
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Label: won within this many days.")
    ] = 90,
    holdout_days: Annotated[
        int, typer.Option("--holdout-days", min=7, help="Latest lead cohort held out.")
    ] = 120,
    validation_days: Annotated[
        int, typer.Option("--validation-days", min=7, help="Cohort before it, for calibration.")
    ] = 60,
    every_days: Annotated[
        int, typer.Option("--snapshot-every-days", min=1, help="Days between snapshots.")
    ] = 14,
    max_snapshots: Annotated[
        int, typer.Option("--max-snapshots", min=1, help="Snapshots per lead at most.")
    ] = 8,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit/--no-refit",
            help="Serve a model refitted on train + holdout leads after the evaluation.",
        ),
    ] = True,
    label_column: Annotated[
        str | None,
        typer.Option(
            "--label-column",
            help="Single-table export (--data FILE.csv/.parquet): the outcome column "
            "(0/1, yes/no, true/false, won/lost).",
        ),
    ] = None,
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
    time_column: Annotated[
        str | None,
        typer.Option("--time-column", help="Single table: split forward in time by this column."),
    ] = None,
    row_order_is_time: Annotated[
        bool,
        typer.Option(
            "--row-order-is-time", help="Single table: rows are in time order; split by it."
        ),
    ] = False,
    missing_values: Annotated[
        str,
        typer.Option(
            "--missing-values",
            help="Single table: comma-separated placeholders read as missing (blanks always are).",
        ),
    ] = "Select",
) -> None:
    """Train the calibrated conversion model and baselines; log and register in MLflow."""
    if label_column is not None or data.is_file():
        _train_table(data, label_column, drop, time_column, row_order_is_time, missing_values, seed)
        return

    from training.labels import SnapshotScheme, SplitConfig
    from training.pipeline import TrainConfig
    from training.pipeline import train as run_pipeline
    from training.run import log_run
    from training.tracking import TrackingConfig

    read = _read_or_exit(data)
    try:
        export = read.export.without_extra_columns(_split_list(drop))
    except ValueError as exc:
        err_console.print(f"[red]Cannot train:[/red] {exc}")
        raise typer.Exit(code=1) from None
    config = TrainConfig(
        horizon_days=horizon_days,
        as_of=_as_utc(as_of),
        scheme=SnapshotScheme(every_days=every_days, max_snapshots=max_snapshots, seed=seed),
        split=SplitConfig(holdout_days=holdout_days, validation_days=validation_days),
        seed=seed,
        refit=refit,
    )
    with console.status("Building snapshots and features, fitting models..."):
        try:
            result = run_pipeline(export, config)
        except ValueError as exc:
            err_console.print(f"[red]Cannot train:[/red] {exc}")
            raise typer.Exit(code=1) from None
    tracking = TrackingConfig.from_env()
    with console.status("Logging to MLflow and registering the model..."):
        summary = log_run(result, export, data, tracking)
    _print_comparison(summary.comparison)
    console.print(
        f"Snapshots: {summary.counts}. Trees: {result.best_iteration}, "
        f"calibration: {result.calibration['method']}."
    )
    console.print(
        f"Registered [bold]{summary.model_name}[/bold] version {summary.version} as "
        f"@challenger; gate: {'promoted to @champion' if summary.gate.promoted else 'not promoted'}"
        f" ({summary.gate.reason})."
    )
    for key, value in summary.gate.metrics.items():
        console.print(f"  {key}: {value:.4f}")
    console.print(f"MLflow run {summary.run_id} at {tracking.tracking_uri}")


ModelOption = Annotated[
    str,
    typer.Option("--model", help="MLflow model URI.", envvar="LEADSCORE_MODEL_URI"),
]


@app.command()
def score(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Scores file: .csv or .parquet.")],
    as_of: AsOfOption = None,
    model: ModelOption = "models:/lead-conversion@champion",
    no_reasons: Annotated[
        bool, typer.Option("--no-reasons", help="Skip SHAP reasons and sub-scores (faster).")
    ] = False,
) -> None:
    """Score every lead with no opportunity as of the date."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ops.policy_store import PolicyStore, resolve_model_version
    from training.batch import open_leads, score_export, write_scores
    from training.tracking import TrackingConfig, load_scorer_from_uri

    if out.suffix not in (".csv", ".parquet"):
        err_console.print(f"[red]--out must end in .csv or .parquet:[/red] {out}")
        raise typer.Exit(code=2)
    read = _read_or_exit(data)
    when = _as_utc(as_of) or read.export.cutoff
    TrackingConfig.from_env().activate()
    try:
        with console.status(f"Loading {model}..."):
            scorer = load_scorer_from_uri(model)
            if model.startswith("models:/"):
                # the tier policy applied to this version (leadscore thresholds --apply), as
                # the service serves it
                name, version = resolve_model_version(model)
                scorer = scorer.with_policy(PolicyStore(name).served_policy(version, scorer.policy))
    except Exception as exc:  # MLflow raises many kinds; the person needs the message
        err_console.print(f"[red]Cannot load model {model}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    total = len(open_leads(read.export, when))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Scoring leads", total=total)
        scores = score_export(
            read.export,
            scorer,
            when,
            explain=not no_reasons,
            on_progress=lambda n: progress.advance(task, n),
        )
    write_scores(scores, out)
    tiers = scores["tier"].value_counts().to_dict()
    console.print(
        f"Scored {len(scores):,} open leads as of {when:%Y-%m-%d %H:%M} with {model}: "
        + ", ".join(f"{k} {v:,}" for k, v in tiers.items())
        + f". Wrote {out}."
    )


@app.command()
def promote(
    version: Annotated[
        str, typer.Argument(help="Model version to make @champion (e.g. a rollback).")
    ],
    name: Annotated[str, typer.Option("--name", help="Registered model name.")] = "",
) -> None:
    """Force a model version to @champion: promote a challenger or roll back."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training.tracking import CHAMPION, TrackingConfig, set_alias

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


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", envvar="LEADSCORE_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", envvar="LEADSCORE_PORT", min=1, max=65_535, help="Port.")
    ] = 3000,
    model: ModelOption = "models:/lead-conversion@champion",
    workers: Annotated[
        int,
        typer.Option("--workers", envvar="LEADSCORE_WORKERS", min=1, help="Worker processes."),
    ] = 1,
) -> None:
    """Serve the model over HTTP (BentoML): POST /score, GET /model, /livez, /readyz."""
    import json
    import tempfile

    from serving.config import ServingConfig
    from serving.launch import ServeOptions, prepare, run_server
    from serving.model_source import ModelLoadError
    from serving.schemas import EXAMPLE_LEAD

    config = ServingConfig.from_env()
    options = ServeOptions(model, config.tracking_uri, host, port, workers)
    with tempfile.TemporaryDirectory(prefix="leadscore-serve-") as tmp:
        try:
            with console.status(f"Loading {model}..."):
                card = prepare(options, Path(tmp))
        except ModelLoadError as exc:
            err_console.print(f"[red]Cannot serve:[/red] {exc}")
            raise typer.Exit(code=1) from None
        url = f"http://{host}:{port}"
        now = pd.Timestamp.now(tz="UTC").floor("min")
        lead = dict(EXAMPLE_LEAD, created_at=f"{now - pd.Timedelta(days=9):%Y-%m-%dT%H:%M:%SZ}")
        lead["activities"] = [
            dict(a, occurred_at=f"{now - pd.Timedelta(days=5 - 3 * i):%Y-%m-%dT%H:%M:%SZ}")
            for i, a in enumerate(EXAMPLE_LEAD["activities"])
        ]
        body = json.dumps({"leads": [lead], "explain": True})
        auth = " -H 'Authorization: Bearer $LEADSCORE_API_TOKEN'" if config.api_token else ""
        console.print(
            f"Serving [bold]{card.name}[/bold] version {card.version}"
            + (f" (@{card.alias})" if card.alias else "")
            + f" on {url} ({workers} worker{'s' if workers > 1 else ''}). Score a lead:"
        )
        console.print(
            f"  curl -s {url}/score -H 'Content-Type: application/json'{auth} -d '{body}'",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        code = run_server(options, Path(tmp))
    if code not in (0, -2, 130):
        raise typer.Exit(code=code)


@app.command()
def thresholds(
    model: ModelOption = "models:/lead-conversion@champion",
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
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from rich import box
    from rich.table import Table

    from ops.policy_store import PolicyNotFound, PolicyStore, resolve_model_version
    from ops.targets import ThresholdTargets, candidate_table
    from ops.thresholds import calibrate_thresholds
    from training.tracking import TrackingConfig

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
    export = _read_or_exit(data).export if data is not None else None
    try:
        with console.status("Scoring the evaluation period and solving for the targets..."):
            result = calibrate_thresholds(
                model,
                targets,
                export=export,
                as_of=_as_utc(as_of),
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


@app.command()
def report(
    predictions: Annotated[
        str,
        typer.Option(
            "--predictions",
            help="Prediction log: database URL, SQLite file, or .parquet/.csv dump.",
            envvar="LEADSCORE_PREDICTION_LOG",
        ),
    ],
    data: DataOption,
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
    from ops.closed_loop import ClosedLoopError, run_closed_loop_report, summary_lines
    from training.tracking import TrackingConfig

    read = _read_or_exit(data)
    try:
        with console.status("Joining logged scores with outcomes, measuring drift..."):
            outcome = run_closed_loop_report(
                predictions,
                read.export,
                data,
                TrackingConfig.from_env(),
                cutoff=_as_utc(as_of),
                horizon_days=horizon_days,
                model_uri=model,
                since=_as_utc(since),
                psi_threshold=psi_threshold,
                with_drift=not no_drift,
            )
    except ClosedLoopError as exc:
        err_console.print(f"[red]Cannot report:[/red] {exc}")
        raise typer.Exit(code=1) from None
    for line in summary_lines(outcome.result):
        console.print(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(outcome.html, encoding="utf-8")
    console.print(f"Report: {out}; MLflow run {outcome.run_id}")


if __name__ == "__main__":
    app()
