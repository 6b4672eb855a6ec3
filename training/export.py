"""Reading and writing CRM exports: a folder with leads, activities and opportunities tables."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.contract import (
    ACTIVITIES,
    LEADS,
    OPPORTUNITIES,
    TABLES,
    Export,
    export_cutoff,
    extra_lead_columns,
)
from features.issues import Issue, ValidationReport
from features.partition import lead_partition
from features.table_stage import DICTIONARY_COLUMNS
from features.validation import validate_in_batches, validate_tables
from training.sources import (
    BATCH_ROWS,
    SourceProblem,
    TableSource,
    iter_batches,
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
        export = self.export
        activities = export.activities
        rows = [
            _lead_row(export.leads),
            (
                ACTIVITIES,
                len(activities),
                activities["occurred_at"].min(),
                activities["occurred_at"].max(),
                f"{activities['activity_type'].nunique():,} types",
            ),
            _opportunity_row(export.opportunities),
        ]
        _print_summary(console, self.path, rows, self.report, export.cutoff)


@dataclass(frozen=True)
class CheckedExport:
    """An export checked by `check_export`: the report and what its tables hold, not the
    tables themselves."""

    report: ValidationReport
    path: Path | str
    rows: list[SummaryRow]
    cutoff: pd.Timestamp

    def print_summary(self, console: Console) -> None:
        """Print row counts, time spans, and the warnings."""
        _print_summary(console, self.path, self.rows, self.report, self.cutoff)


# (table, rows, first and last timestamp, notes): a line of an export's summary.
SummaryRow = tuple[str, int, pd.Timestamp | None, pd.Timestamp | None, str]


def _lead_row(leads: pd.DataFrame) -> SummaryRow:
    extras = [str(c) for c in extra_lead_columns(leads)]
    notes = f"extra: {', '.join(extras)}" if extras else ""
    return LEADS, len(leads), leads["created_at"].min(), leads["created_at"].max(), notes


def _opportunity_row(opportunities: pd.DataFrame) -> SummaryRow:
    status = Counter(opportunities["status"].tolist())
    notes = ", ".join(f"{status.get(s, 0):,} {s}" for s in ("open", "won", "lost"))
    created = opportunities["created_at"]
    return OPPORTUNITIES, len(opportunities), created.min(), created.max(), notes


def _print_summary(
    console: Console,
    path: Path | str,
    rows: list[SummaryRow],
    report: ValidationReport,
    cutoff: pd.Timestamp,
) -> None:
    from rich.table import Table

    table = Table(title=f"Export {path}", title_justify="left")
    table.add_column("table", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("notes", ratio=1, overflow="fold")
    for name, count, first, last, notes in rows:
        table.add_row(name, f"{count:,}", _day(first), _day(last), notes)
    console.print(table)
    warnings = report.warnings
    title = _plural(len(warnings), "warning") + " (not failing)" + _per_table_counts(warnings)
    _print_issues(console, warnings, title, "bold yellow")
    console.print(
        f"[green]OK[/green]: the export meets the data contract (cut-off {_day(cutoff)})."
    )


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
    _log_warnings(path, report)
    log.info(
        "read export %s: %d leads, %d activities, %d opportunities",
        path,
        len(export.leads),
        len(export.activities),
        len(export.opportunities),
    )
    return ExportRead(export=export, report=report, path=path)


def check_export(path: Path | str, batch_rows: int = BATCH_ROWS) -> CheckedExport:
    """Validate the export at `path` as `read_export` does, reading the activities (the table
    that grows to hundreds of millions of rows) `batch_rows` at a time, so memory holds the
    leads, the opportunities and one batch; raise ExportError on any error. `leadscore
    validate` runs this."""
    path = path if isinstance(path, Path) or "://" in str(path) else Path(path)
    files = _find_tables(path)
    small = {table: source for table, source in files.items() if table != ACTIVITIES}
    frames = _read_tables(path, small, {})
    unreadable: list[Issue] = []
    batches = _readable_batches(files[ACTIVITIES], batch_rows, unreadable)
    checked = validate_in_batches(frames[LEADS], batches, frames[OPPORTUNITIES])
    if unreadable:
        raise ExportError(
            f"export {path} has unreadable files", path, ValidationReport(tuple(unreadable))
        )
    report = checked.report
    if checked.leads is None or checked.opportunities is None:
        raise ExportError(f"export {path} does not meet the data contract", path, report)
    _log_warnings(path, report)
    summary = checked.activities
    leads, opportunities = checked.leads, checked.opportunities
    activity_row = (
        ACTIVITIES, summary.rows, summary.first, summary.last, f"{len(summary.types):,} types"
    )  # fmt: skip
    return CheckedExport(
        report=report,
        path=path,
        rows=[_lead_row(leads), activity_row, _opportunity_row(opportunities)],
        cutoff=export_cutoff(leads, summary.last, opportunities),
    )


def _readable_batches(
    source: TableSource, rows: int, problems: list[Issue]
) -> Iterator[pd.DataFrame]:
    """The table's batches; a reader failure ends them and is kept as an issue."""
    try:
        yield from iter_batches(source, dictionary=DICTIONARY_COLUMNS[source.table], rows=rows)
    # Any reader failure is the file's problem, shown as an issue rather than a traceback.
    except Exception as exc:
        problems.append(Issue("error", source.table, None, None, source.name, _reason(exc)))


def _log_warnings(path: Path | str, report: ValidationReport) -> None:
    if report.warnings:
        kinds = Counter(f"{i.table}: {i.message}" for i in report.warnings)
        log.warning(
            "export %s has %s: %s",
            path,
            _plural(len(report.warnings), "warning"),
            "; ".join(f"{kind} x{count:,}" for kind, count in kinds.most_common()),
        )


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
            problems.append(Issue("error", table, None, None, source.name, _reason(exc)))
    if problems:
        raise ExportError(
            f"export {path} has unreadable files", path, ValidationReport(tuple(problems))
        )
    return frames


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"cannot read file: {text.splitlines()[0] if text else type(exc).__name__}"


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


def _day(stamp: pd.Timestamp | None) -> str:
    return "" if stamp is None or pd.isna(stamp) else f"{stamp:%Y-%m-%d}"


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
