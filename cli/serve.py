"""`leadscore serve`: the model over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cli.common import ModelOption, console, err_console, model_or_default


def serve(
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on [default: LEADSCORE_HOST, 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65_535, help="Port [default: LEADSCORE_PORT, 3000]."),
    ] = None,
    model: ModelOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, max=64, help="Worker processes [default: LEADSCORE_WORKERS, 1]."
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve on a non-loopback address without LEADSCORE_API_TOKEN "
            "(only behind a gateway that authenticates callers).",
        ),
    ] = False,
) -> None:
    """Serve the model over HTTP (BentoML): POST /score, GET /model, /livez, /readyz."""
    model = model_or_default(model)
    import json
    import tempfile

    from rich.markup import escape

    from serving.config import ConfigError, ServingConfig, check_exposure
    from serving.launch import ServeOptions, prepare, run_server
    from serving.model_source import ModelLoadError, table_example
    from serving.schemas import EXAMPLE_LEAD
    from serving.startup import open_prediction_log

    try:
        config = ServingConfig.from_env()
        host = host or config.host
        check_exposure(host, config.api_token, insecure)
        prediction_log = open_prediction_log(config)  # a bad URL is named now, not per worker
        if prediction_log is not None:
            prediction_log.close()
    except ConfigError as exc:
        err_console.print(f"[red]Cannot serve:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    port = port or config.port
    workers = workers or config.workers
    options = ServeOptions(model, config.tracking_uri, host, port, workers, insecure)
    with tempfile.TemporaryDirectory(prefix="leadscore-serve-") as tmp:
        try:
            with console.status(f"Loading {model}..."):
                card = prepare(options, Path(tmp), config.registry_timeout_seconds)
        except ModelLoadError as exc:
            err_console.print(f"[red]Cannot serve:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(code=1) from None
        url = f"http://{host}:{port}"
        lead = table_example(Path(tmp))  # None: an export model's leads
        if lead is None:
            now = pd.Timestamp.now(tz="UTC").floor("min")
            created = f"{now - pd.Timedelta(days=9):%Y-%m-%dT%H:%M:%SZ}"
            lead = dict(EXAMPLE_LEAD, created_at=created)
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
