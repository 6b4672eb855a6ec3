"""The `leadscore` command line: people-facing, so it prints; the packages log."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Annotated

import typer

from cli import data, ops, score, serve, train, ui

app = typer.Typer(
    name="leadscore",
    help="Calibrated, explained lead conversion scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """leadscore: who will buy, why, and whether sales should call now."""
    from models.settings import SettingsError, load_settings

    try:
        load_settings()
    except SettingsError as exc:
        # One line naming the variable, before any command runs.
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    level = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    existing = set(root.handlers)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The level of the lines printed, not only of the root logger: a long command's live line
    # (cli.progress) reads the project's INFO messages without --verbose, unprinted.
    for handler in root.handlers:
        if handler not in existing:
            handler.setLevel(level)
    if not verbose:
        # MLflow's hints about schemas and pickling are for library authors, not for people
        # training a model; --verbose shows them.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"mlflow\..*")


app.command()(data.validate)
app.command("demo-data")(data.demo_data)
app.command()(train.train)
app.command()(score.score)
app.command()(train.promote)
app.command()(serve.serve)
app.command()(ops.thresholds)
app.command()(ops.report)
app.command()(ui.ui)
app.command("replay-log")(ui.replay_log)

if __name__ == "__main__":
    app()
