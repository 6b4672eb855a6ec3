"""Reading and writing CRM exports: a folder with leads, activities and opportunities tables."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.contract import ACTIVITIES, LEADS, OPPORTUNITIES, TABLES, Export
from features.partition import lead_partition
from features.table_stage import DICTIONARY_COLUMNS
from features.validation import Issue, ValidationReport, validate_tables
from training.sources import (
    SourceProblem,
    TableSource,
    locate_tables,
    read_source,
    source_columns,
)

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "parquet")
# Enough rows to see what is wrong; the counts always cover every issue.
MAX_ISSUES_SHOWN_PER_TABLE = 50
EXPORT_TABLE = "export"  # the `table` of issues about the folder itself
# What training and scoring never read: free text, often the largest column of an export.
UNREAD_COLUMNS: dict[str, tuple[str, ...]] = {ACTIVITIES: ("detail",)}


class ExportError(Exception):
    """An export that cannot be read or breaks the data contract; `report` lists every problem."""

    def __init__(self, message: str, path: Path | str, report: ValidationReport) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.report = report

    def print(self, console: Console) -> None:
        """Print the message and a table of every issue (capped per table, all counted)."""
        errors, warnings = self.report.errors, self.report.warnings
        console.print(f"[bold red]Error:[/bold red] {self.message}")
        _print_issues(
            console, errors, _plural(len(errors), "error") + _per_table_counts(errors), "bold red"
        )
        title = _plural(len(warnings), "warning") + " (not failing)" + _per_table_counts(warnings)
        _print_issues(console, warnings, title, "bold yellow")


@dataclass(frozen=True)
class ExportRead:
    """A validated export, with the warnings found while validating it."""

    export: Export
    report: ValidationReport
    path: Path | str

    def print_summary(self, console: Console) -> None:
        """Print row counts, time spans, and the warnings."""
        from rich.table import Table

        export = self.export
        table = Table(title=f"Export {self.path}", title_justify="left")
        table.add_column("table", no_wrap=True)
        table.add_column("rows", justify="right", no_wrap=True)
        table.add_column("from", no_wrap=True)
        table.add_column("to", no_wrap=True)
        table.add_column("notes", ratio=1, overflow="fold")
        leads, activities, opportunities = export.leads, export.activities, export.opportunities
        extras = export.extra_lead_columns
        status = Counter(opportunities["status"].tolist())
        for name, frame, stamps, notes in (
            (
                LEADS,
                leads,
                leads["created_at"],
                f"extra: {', '.join(extras)}" if extras else "",
            ),
            (
                ACTIVITIES,
                activities,
                activities["occurred_at"],
                f"{activities['activity_type'].nunique():,} types",
            ),
            (
                OPPORTUNITIES,
                opportunities,
                opportunities["created_at"],
                ", ".join(f"{status.get(s, 0):,} {s}" for s in ("open", "won", "lost")),
            ),
        ):
            table.add_row(name, f"{len(frame):,}", _day(stamps.min()), _day(stamps.max()), notes)
        console.print(table)
        warnings = self.report.warnings
        title = _plural(len(warnings), "warning") + " (not failing)" + _per_table_counts(warnings)
        _print_issues(console, warnings, title, "bold yellow")
        cutoff = _day(export.cutoff)
        console.print(f"[green]OK[/green]: the export meets the data contract (cut-off {cutoff}).")


def read_export(path: Path | str, whole: bool = True) -> ExportRead:
    """Read and validate the export at `path` (a folder or fsspec URL, see training.sources);
    raise ExportError on any error.

    `whole=False` leaves out the columns no model reads (`UNREAD_COLUMNS`: activity details),
    for training and scoring; `validate` and the web app read the whole export.
    """
    path = path if isinstance(path, Path) or "://" in str(path) else Path(path)
    files = _find_tables(path)
    unread: dict[str, tuple[str, ...]] = {} if whole else dict(UNREAD_COLUMNS)
    frames = _read_tables(path, files, unread)
    export, report = validate_tables(frames[LEADS], frames[ACTIVITIES], frames[OPPORTUNITIES])
    if export is None:
        raise ExportError(f"export {path} does not meet the data contract", path, report)
    if report.warnings:
        kinds = Counter(f"{i.table}: {i.message}" for i in report.warnings)
        log.warning(
            "export %s has %s: %s",
            path,
            _plural(len(report.warnings), "warning"),
            "; ".join(f"{kind} x{count:,}" for kind, count in kinds.most_common()),
        )
    log.info(
        "read export %s: %d leads, %d activities, %d opportunities",
        path,
        len(export.leads),
        len(export.activities),
        len(export.opportunities),
    )
    return ExportRead(export=export, report=report, path=path)


def _find_tables(path: Path | str) -> dict[str, TableSource]:
    try:
        sources, problems = locate_tables(path, TABLES)
    except SourceProblem as problem:
        raise _folder_error(path, problem.message) from None
    if problems:
        issues = tuple(
            Issue("error", p.table or EXPORT_TABLE, None, None, None, p.message) for p in problems
        )
        raise ExportError(
            f"export {path} is missing tables or has ambiguous ones",
            path,
            ValidationReport(issues),
        )
    return sources


def _folder_error(path: Path | str, message: str) -> ExportError:
    issue = Issue("error", EXPORT_TABLE, None, None, str(path), message)
    return ExportError(f"export {path}: {message}", path, ValidationReport((issue,)))


def _read_tables(
    path: Path | str, sources: dict[str, TableSource], unread: dict[str, tuple[str, ...]]
) -> dict[str, pd.DataFrame]:
    frames, problems = {}, []
    for table, source in sources.items():
        try:
            columns = None
            if unread.get(table):
                columns = [c for c in source_columns(source) if c not in unread[table]]
            frames[table] = read_source(source, columns, DICTIONARY_COLUMNS.get(table, ()))
        # Any reader failure is the file's problem, shown as an issue rather than a traceback.
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(
                Issue("error", table, None, None, source.name, f"cannot read file: {reason}")
            )
    if problems:
        raise ExportError(
            f"export {path} has unreadable files", path, ValidationReport(tuple(problems))
        )
    return frames


def _per_table_counts(issues: tuple[Issue, ...]) -> str:
    counts = Counter(i.table for i in issues)
    if not counts:
        return ""
    return " (" + ", ".join(f"{table} {n:,}" for table, n in counts.items()) + ")"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def _print_issues(console: Console, issues: tuple[Issue, ...], title: str, style: str) -> None:
    """Print one table of issues, at most MAX_ISSUES_SHOWN_PER_TABLE rows per export table."""
    from rich.table import Table

    if not issues:
        return
    grid = Table(title=title, title_style=style, title_justify="left", show_edge=False)
    grid.add_column("table", no_wrap=True)
    grid.add_column("row", justify="right", no_wrap=True)
    grid.add_column("column", overflow="fold")
    grid.add_column("value", max_width=28, overflow="fold")
    grid.add_column("problem", ratio=1, overflow="fold")
    by_table: dict[str, list[Issue]] = {}
    for issue in issues:
        by_table.setdefault(issue.table, []).append(issue)
    for table, found in by_table.items():
        for issue in found[:MAX_ISSUES_SHOWN_PER_TABLE]:
            grid.add_row(
                table,
                "" if issue.row is None else f"{issue.row:,}",
                issue.column or "",
                _shown_value(issue.value),
                issue.message,
            )
        hidden = len(found) - MAX_ISSUES_SHOWN_PER_TABLE
        if hidden > 0:
            grid.add_row(table, "", "", "", f"[dim]... and {hidden:,} more in {table}[/dim]")
    console.print(grid)


def _shown_value(value: str | None) -> str:
    from rich.markup import escape

    if value is None:
        return "[dim](empty)[/dim]"
    shown = value if len(value) <= 60 else value[:57] + "..."
    # Quotes make blank or padded values visible.
    return escape(repr(shown) if shown != shown.strip() or not shown else shown)


def _day(stamp: pd.Timestamp) -> str:
    return "" if pd.isna(stamp) else f"{stamp:%Y-%m-%d}"


def write_export(
    export: Export, out: Path, fmt: str = "csv", partitions: int | None = None
) -> list[Path]:
    """Write the three tables of `export` into folder `out` as csv or parquet.

    With `partitions` (parquet only), each table is a folder of that many files split by the
    hash of lead_id (`features.partition`), so file k of every table holds the same leads.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or parquet")
    if partitions is not None and fmt != "parquet":
        raise ValueError("partitioned exports are written as parquet")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        frame = getattr(export, table)
        if partitions is not None:
            written += write_partitioned(frame, out / table, partitions)
            continue
        path = out / f"{table}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    log.info("wrote export to %s", out)
    return written


def partition_file(folder: Path, number: int, batch: int = 0) -> Path:
    """File of partition `number` (from batch `batch` of a streamed write) in a table folder."""
    return folder / f"part-{number:05d}-{batch:05d}.parquet"


def write_partitioned(
    frame: pd.DataFrame, folder: Path, partitions: int, batch: int = 0
) -> list[Path]:
    """`frame` as parquet files in `folder`, one per non-empty partition of its lead_id."""
    folder.mkdir(parents=True, exist_ok=True)
    number = lead_partition(frame["lead_id"], partitions)
    written = []
    for k in range(partitions):
        rows = np.flatnonzero(number == k)
        if not len(rows) and k:
            continue  # partition 0 is always written, so the folder has the table's schema
        path = partition_file(folder, k, batch)
        frame.iloc[rows].to_parquet(path, index=False)
        written.append(path)
    return written
