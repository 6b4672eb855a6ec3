"""Small raw export tables for validation tests, and changes of one cell, column or row."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from features.contract import Export
from features.issues import ValidationReport
from features.validation import validate_tables

Tables = dict[str, pd.DataFrame]


def csv_like(rows: list[list[str | None]], columns: list[str]) -> pd.DataFrame:
    """A table as the csv reader hands it on: every cell a string, empty cells missing."""
    return pd.DataFrame(rows, columns=columns, dtype="str")


def good_tables() -> Tables:
    leads = csv_like(
        [
            ["L1", "2024-01-01T00:00:00Z", "web", "10", "1.5", "gold"],
            ["L2", "2024-01-02T00:00:00Z", "ads", "200", "2", "silver"],
            ["L3", "2024-01-03T00:00:00Z", None, None, None, None],
        ],
        ["lead_id", "created_at", "source", "company_size", "fit_score", "tier"],
    )
    activities = csv_like(
        [
            ["L1", "2024-01-05T00:00:00Z", "page_view", "/pricing"],
            ["L2", "2024-01-06T00:00:00Z", "email_open", None],
            ["L3", "2024-01-07T00:00:00Z", "demo_request", None],
        ],
        ["lead_id", "occurred_at", "activity_type", "detail"],
    )
    opportunities = csv_like(
        [
            ["O1", "L1", "2024-01-10T00:00:00Z", "2024-02-01T00:00:00Z", "won", "1000"],
            ["O2", "L2", "2024-01-11T00:00:00Z", None, "open", None],
            ["O3", "L3", "2024-01-12T00:00:00Z", "2024-03-01T00:00:00Z", "lost", "50"],
        ],
        ["opportunity_id", "lead_id", "created_at", "closed_at", "status", "amount"],
    )
    return {"leads": leads, "activities": activities, "opportunities": opportunities}


def validate(tables: Tables) -> tuple[Export | None, ValidationReport]:
    return validate_tables(tables["leads"], tables["activities"], tables["opportunities"])


def set_cell(table: str, row: int, column: str, value: str | None) -> Callable[[Tables], None]:
    """A change of one cell; `row` is 1-based like the report's."""

    def change(tables: Tables) -> None:
        tables[table].loc[row - 1, column] = value

    return change


def drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def change(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=column)

    return change


def append_row(table: str, values: list[str | None]) -> Callable[[Tables], None]:
    def change(tables: Tables) -> None:
        frame = tables[table]
        tables[table] = pd.concat(
            [frame, csv_like([values], list(frame.columns))], ignore_index=True
        )

    return change


def has_issue(report: ValidationReport, severity, table, column, row, value, message) -> bool:
    return any(
        (i.severity, i.table, i.column, i.row, i.value) == (severity, table, column, row, value)
        and message in i.message
        for i in report.issues
    )
