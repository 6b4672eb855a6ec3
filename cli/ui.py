"""`leadscore ui`: the marketing-ops web app (thresholds, closed loop, model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, err_console


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65_535, help="Port.")] = 8080,
    predictions: Annotated[
        str | None,
        typer.Option(
            "--predictions",
            help="Prediction log for the closed-loop page: URL, SQLite file or dump.",
            envvar="LEADSCORE_PREDICTION_LOG",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A CRM export taken after the scores were logged (closed-loop page).",
            envvar="LEADSCORE_UI_DATA",
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
