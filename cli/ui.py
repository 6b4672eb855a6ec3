"""`leadscore ui`: the marketing-ops web app (thresholds, closed loop, model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import ModelOption, console, err_console, model_or_default, read_or_exit
from cli.progress import stage_progress


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65_535, help="Port.")] = 8080,
    predictions: Annotated[
        str | None,
        typer.Option(
            "--predictions",
            help="Prediction log for the closed-loop page: URL, SQLite file or dump "
            "[default: LEADSCORE_PREDICTION_LOG].",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A CRM export taken after the scores were logged (closed-loop page) "
            "[default: LEADSCORE_UI_DATA].",
        ),
    ] = None,
) -> None:
    """Serve the marketing-ops web app: thresholds, the closed loop, champion vs challenger."""
    from ops.web.server import serve
    from ops.web.settings import UiConfigError, UiSettings

    try:
        settings = UiSettings.from_env(host, port, predictions, data)
    except UiConfigError as exc:
        err_console.print(f"[red]Cannot start:[/red] {exc}")
        raise typer.Exit(code=2) from None
    access = (
        "sign in with LEADSCORE_API_TOKEN"
        if settings.signs_in
        else "no LEADSCORE_API_TOKEN: this machine only"
    )
    console.print(
        f"Marketing ops for [bold]{settings.tracking.model_name}[/bold] "
        f"({settings.tracking.tracking_uri}) on http://{host}:{port} ({access}). Ctrl-C stops it."
    )
    serve(settings)


def replay_log(
    data: Annotated[Path, typer.Option("--data", help="CRM export folder.")],
    predictions: Annotated[
        Path, typer.Option("--predictions", help="SQLite prediction log to append to.")
    ] = Path("predictions.db"),
    model: ModelOption = None,
    days_before: Annotated[
        str, typer.Option("--days-before", help="Comma-separated days before the cut-off.")
    ] = "120,20",
) -> None:
    """Log the scores the model gives the export's open leads at past dates (demo, backfill)."""
    model = model_or_default(model)
    from models.pyfunc import load_scorer_from_uri
    from models.registry import TrackingConfig, resolve_model_version, version_uri
    from ops.policy_store import PolicyStore
    from ops.prediction_log import PredictionLog, sqlite_url
    from ops.replay import replay_scores

    try:
        days = [int(d) for d in days_before.split(",") if d.strip()]
    except ValueError:
        err_console.print(f"[red]--days-before takes whole days, got {days_before!r}[/red]")
        raise typer.Exit(code=2) from None
    export = read_or_exit(data).export
    TrackingConfig.from_env().activate()
    try:
        name, version = resolve_model_version(model)
        scorer = load_scorer_from_uri(version_uri(name, version))
        scorer = scorer.with_policy(PolicyStore(name).served_policy(version, scorer.policy))
    except Exception as exc:  # MLflow raises many kinds; the person needs the message
        err_console.print(f"[red]Cannot load model {model}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    store = PredictionLog(sqlite_url(predictions))
    with stage_progress(console, "Scoring open leads at past dates"):
        rows = replay_scores(
            export, scorer, store, model_name=name, model_version=version, days_before=days
        )
    store.close()
    console.print(f"Logged {rows:,} scores of {name} version {version} to {predictions}.")
