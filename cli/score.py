"""`leadscore score`: score every open lead of an export into a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    AsOfOption,
    ClusterOption,
    DataOption,
    ModelOption,
    as_utc,
    console,
    data_location,
    err_console,
    model_or_default,
    partition_runner,
    read_or_exit,
)


def _score_table(path: Path, out: Path, model: str, no_reasons: bool) -> None:
    """`leadscore score --data TABLE`: every row of a table, with a single-table model."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from models.pyfunc import load_any_scorer_from_uri
    from models.table_scorer import TableScorer
    from training.batch import score_table, write_scores
    from training.table_input import TableError, read_table

    try:
        rows = read_table(path)
    except (TableError, ValueError, OSError) as exc:
        err_console.print(f"[red]Cannot read {path}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    scorer = _load_served(model, load_any_scorer_from_uri)
    if not isinstance(scorer, TableScorer):
        err_console.print(f"[red]{model} scores CRM exports (a folder), not a table.[/red]")
        raise typer.Exit(code=1)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Scoring rows", total=len(rows))
        scores = score_table(
            rows, scorer, not no_reasons, on_progress=lambda n: progress.advance(task, n)
        )
    write_scores(scores, out)
    tiers = scores["tier"].value_counts().to_dict()
    console.print(
        f"Scored {len(scores):,} rows of {path.name} with {model}: "
        + ", ".join(f"{k} {v:,}" for k, v in tiers.items())
        + f". Wrote {out}."
    )


def score(
    data: DataOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Scores file (.csv or .parquet), or a folder: one parquet file per partition "
            "of leads, written as each partition is scored.",
        ),
    ],
    as_of: AsOfOption = None,
    model: ModelOption = None,
    no_reasons: Annotated[
        bool, typer.Option("--no-reasons", help="Skip SHAP reasons and sub-scores (faster).")
    ] = False,
    cluster: ClusterOption = None,
) -> None:
    """Score every lead with no opportunity as of the date (an export), or every row of a table
    (a single-table model)."""
    model = model_or_default(model)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from models.pyfunc import load_scorer_from_uri
    from training.batch import open_leads, score_export, write_score_partitions, write_scores

    folder = not out.suffix
    if not folder and out.suffix not in (".csv", ".parquet"):
        err_console.print(f"[red]--out must end in .csv or .parquet, or be a folder:[/red] {out}")
        raise typer.Exit(code=2)
    location = data_location(str(data))
    if isinstance(location, Path) and location.is_file():
        if folder:
            err_console.print("[red]--out for a table: a .csv or .parquet file.[/red]")
            raise typer.Exit(code=2)
        _score_table(location, out, model, no_reasons)
        return
    read = read_or_exit(data, whole=False)
    when = as_utc(as_of) or read.export.cutoff
    scorer = _load_served(model, load_scorer_from_uri)
    total = len(open_leads(read.export, when))
    with (
        partition_runner(cluster) as map_partitions,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("Scoring leads", total=total)
        options = {
            "explain": not no_reasons,
            "on_progress": lambda n: progress.advance(task, n),
            "map_partitions": map_partitions,
        }
        if folder:
            files = write_score_partitions(read.export, scorer, when, out, **options)
        else:
            scores = score_export(read.export, scorer, when, **options)
    if folder:
        console.print(
            f"Scored {total:,} open leads as of {when:%Y-%m-%d %H:%M} with {model}. Wrote "
            f"{len(files)} parquet partitions to {out}."
        )
        return
    write_scores(scores, out)
    tiers = scores["tier"].value_counts().to_dict()
    console.print(
        f"Scored {len(scores):,} open leads as of {when:%Y-%m-%d %H:%M} with {model}: "
        + ", ".join(f"{k} {v:,}" for k, v in tiers.items())
        + f". Wrote {out}."
    )


def _load_served(model: str, load: Callable[[str], Any]) -> Any:
    """The scorer at `model` with the tier policy applied to its version, as the service serves it
    (leadscore thresholds --apply); a model that cannot be loaded exits with its message."""
    from models.registry import TrackingConfig, resolve_model_version
    from ops.policy_store import PolicyStore

    TrackingConfig.from_env().activate()
    try:
        with console.status(f"Loading {model}..."):
            scorer = load(model)
            if model.startswith("models:/"):
                name, version = resolve_model_version(model)
                scorer = scorer.with_policy(PolicyStore(name).served_policy(version, scorer.policy))
    except Exception as exc:  # MLflow raises many kinds; the person needs the message
        err_console.print(f"[red]Cannot load model {model}:[/red] {exc}")
        raise typer.Exit(code=1) from None
    return scorer
