"""An export's problems: `Issue`, the `ValidationReport` of all of them, and `IssueLog`, which
collects them in vectorised batches while `features/validation.py` checks the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from features.contract import TABLES
from features.table_stage import TableStage

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in an export.

    `row` is the 1-based data row in the table as read (header excluded, so csv line = row + 1);
    None for problems of a whole table or column.
    """

    severity: Severity
    table: str
    column: str | None
    row: int | None
    value: str | None
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """Every issue found in an export, errors and warnings."""

    issues: tuple[Issue, ...] = ()

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings do not fail an export)."""
        return all(i.severity != "error" for i in self.issues)


class IssueLog:
    """Collects issues in vectorised batches; Issue objects are made once, at the end."""

    def __init__(self) -> None:
        self._batches: list[pd.DataFrame] = []
        self._table_issues: set[tuple[str, str, str | None, str, str | None]] = set()

    def add_table(
        self,
        severity: Severity,
        table: str,
        column: str | None,
        message: str,
        value: str | None = None,
    ) -> None:
        # Once per table: a table read in batches would report a missing column per batch.
        key = (severity, table, column, message, value)
        if key in self._table_issues:
            return
        self._table_issues.add(key)
        self._batches.append(
            pd.DataFrame(
                {
                    "severity": [severity],
                    "table": [table],
                    "column": [column],
                    "position": [-1],
                    "value": [value],
                    "message": [message],
                }
            )
        )

    def add_rows(
        self,
        severity: Severity,
        stage: TableStage,
        column: str,
        positions: np.ndarray,
        message: str | list[str],
    ) -> None:
        """Add row issues at 0-based `positions`, each with its raw cell (if the column exists)."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) == 0:
            return
        self._batches.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "table": stage.table,
                    "column": column,
                    "position": positions + stage.offset,
                    "value": (
                        _cell_text(stage.raw[column], positions)
                        if column in stage.raw.columns
                        else None
                    ),
                    "message": message,
                }
            )
        )

    def add_mask(
        self,
        severity: Severity,
        stage: TableStage,
        column: str,
        mask: pd.Series | np.ndarray,
        message: str,
    ) -> None:
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        self.add_rows(severity, stage, column, positions, message)

    def report(self) -> ValidationReport:
        if not self._batches:
            return ValidationReport()
        found = pd.concat(self._batches, ignore_index=True)
        order = {t: i for i, t in enumerate(TABLES)}
        found["table_order"] = found["table"].map(order).fillna(len(order))
        found["severity_order"] = (found["severity"] != "error").astype(int)
        found = found.sort_values(
            ["table_order", "severity_order", "position"], kind="stable", ignore_index=True
        )
        positions = found["position"].to_numpy()
        rows = [None if p < 0 else p + 1 for p in positions.tolist()]
        issues = tuple(
            map(
                Issue,
                found["severity"].tolist(),
                found["table"].tolist(),
                _objects_or_none(found["column"]),
                rows,
                _objects_or_none(found["value"]),
                found["message"].tolist(),
            )
        )
        return ValidationReport(issues)


def _objects_or_none(values: pd.Series) -> list:
    return values.astype(object).where(values.notna(), None).tolist()


def _cell_text(raw: pd.Series, positions: np.ndarray) -> pd.Series:
    cells = raw.iloc[positions].reset_index(drop=True)
    if pd.api.types.is_string_dtype(cells) and not isinstance(cells.dtype, pd.CategoricalDtype):
        return cells
    return cells.astype(object).map(str, na_action="ignore")
