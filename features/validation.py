"""Validation of the three CRM export tables against the data contract.

`validate_tables` takes the tables as read (csv: every cell a string or missing; parquet: native
dtypes) and reports every problem at once, each with table, column, row number and value.
Row numbers are 1-based data rows in the table as read, header excluded: row 1 is the first
data row, which is line 2 of a csv file. Per-column checks run as one lazy pandera schema per
table; checks across rows and tables are vectorised by hand. Parsing and the normalised tables:
`features/table_stage.py`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from features.contract import (
    ACTIVITIES,
    LEAD_REQUIRED,
    LEADS,
    OPPORTUNITIES,
    OPPORTUNITY_STATUSES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    Export,
)
from features.issues import IssueLog, ValidationReport
from features.table_stage import (
    TableStage,
    normalised_activities,
    normalised_leads,
    normalised_opportunities,
    stage_table,
)

UNIQUE_COLUMNS = {LEADS: "lead_id", OPPORTUNITIES: "opportunity_id"}

MSG_MISSING_COLUMN = "required column is missing"
MSG_EMPTY_TABLE = "table has no rows: an export needs at least one lead"
MSG_MISSING_VALUE = "required value is empty"
MSG_UNPARSABLE = "not an ISO-8601 timestamp"
MSG_IMPOSSIBLE = "impossible timestamp (no such date/time, or outside 1970-2262)"
MSG_NOT_NUMBER = "not a number"
MSG_NEGATIVE = "negative number"
MSG_UNKNOWN_STATUS = "unknown status (expected open, won or lost)"
MSG_UNKNOWN_LEAD = "lead_id not found in leads"
MSG_CLOSED_BEFORE_CREATED = "closed_at is before created_at"
MSG_CLOSED_WITHOUT_DATE = "won/lost opportunity without closed_at"
MSG_OPEN_WITH_DATE = "open opportunity with closed_at: kept open, closed_at ignored"
MSG_ACTIVITY_BEFORE_LEAD = "activity before its lead's created_at"
MSG_OPPORTUNITY_BEFORE_LEAD = "opportunity created before its lead's created_at"
MSG_EMPTY_COLUMN = "column is entirely empty"
MSG_NO_ROWS = "table has no rows"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: a report of millions of issues (small acyclic objects) would
    otherwise trigger it over and over, costing more than the validation itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def validate_tables(
    leads: pd.DataFrame, activities: pd.DataFrame, opportunities: pd.DataFrame
) -> tuple[Export | None, ValidationReport]:
    """Check the three raw tables; return the normalised Export (None on errors) and the report."""
    with _gc_paused():
        return _validate_tables(leads, activities, opportunities)


def _validate_tables(
    leads: pd.DataFrame, activities: pd.DataFrame, opportunities: pd.DataFrame
) -> tuple[Export | None, ValidationReport]:
    log = IssueLog()
    stages = {
        LEADS: stage_table(LEADS, leads),
        ACTIVITIES: stage_table(ACTIVITIES, activities),
        OPPORTUNITIES: stage_table(OPPORTUNITIES, opportunities),
    }
    for stage in stages.values():
        _check_schema(stage, log)
        _check_empty(stage, log)
    _check_opportunity_dates(stages[OPPORTUNITIES], log)
    _check_against_leads(stages[LEADS], stages[ACTIVITIES], stages[OPPORTUNITIES], log)
    report = log.report()
    if not report.ok:
        return None, report
    export = Export(
        leads=normalised_leads(stages[LEADS]),
        activities=normalised_activities(stages[ACTIVITIES]),
        opportunities=normalised_opportunities(stages[OPPORTUNITIES]),
    )
    return export, report


@dataclass
class ActivitySummary:
    """What `leadscore validate` shows of an activities table it never held at once."""

    rows: int = 0
    first: pd.Timestamp | None = None  # earliest occurred_at (parsed), None without one
    last: pd.Timestamp | None = None
    types: set[str] = field(default_factory=set)

    def add(self, stage: TableStage) -> None:
        self.rows += len(stage.raw)
        if "occurred_at" in stage.times:
            stamps = stage.times["occurred_at"].values
            if stamps.notna().any():
                low, high = stamps.min(), stamps.max()
                self.first = low if self.first is None else min(self.first, low)
                self.last = high if self.last is None else max(self.last, high)
        if stage.has("activity_type"):
            self.types.update(str(t) for t in stage.frame["activity_type"].dropna().unique())


@dataclass(frozen=True)
class BatchedValidation:
    """`validate_in_batches`' outcome: the report, the small tables normalised (None on errors)
    and a summary of the activities."""

    report: ValidationReport
    leads: pd.DataFrame | None
    opportunities: pd.DataFrame | None
    activities: ActivitySummary


def validate_in_batches(
    leads: pd.DataFrame, activity_batches: Iterable[pd.DataFrame], opportunities: pd.DataFrame
) -> BatchedValidation:
    """The report `validate_tables` gives, with the activities (the table that grows to
    hundreds of millions of rows) read one batch at a time: each batch is checked against the
    leads and let go, so memory holds the leads, the opportunities and one batch. Row numbers
    count from the table's first row across batches."""
    with _gc_paused():
        log = IssueLog()
        lead_stage = stage_table(LEADS, leads)
        opportunity_stage = stage_table(OPPORTUNITIES, opportunities)
        for stage in (lead_stage, opportunity_stage):
            _check_schema(stage, log)
            _check_empty(stage, log)
        _check_opportunity_dates(opportunity_stage, log)
        index = _LeadIndex.of(lead_stage)
        if index is not None:
            _check_lead_ids(index, opportunity_stage, log)
        summary = ActivitySummary()
        blank: set[str] | None = None
        for batch in activity_batches:
            stage = stage_table(ACTIVITIES, batch, offset=summary.rows)
            _check_schema(stage, log)
            if index is not None:
                _check_lead_ids(index, stage, log)
            here = {c for c in _watched_columns(stage) if _is_blank(stage.raw[c]).all()}
            blank = here if blank is None else blank & here
            summary.add(stage)
        if summary.rows == 0:
            log.add_table("warning", ACTIVITIES, None, MSG_NO_ROWS)
        for column in sorted(blank or ()) if summary.rows else ():
            log.add_table("warning", ACTIVITIES, column, MSG_EMPTY_COLUMN)
        report = log.report()
        if not report.ok:
            return BatchedValidation(report, None, None, summary)
        return BatchedValidation(
            report,
            normalised_leads(lead_stage),
            normalised_opportunities(opportunity_stage),
            summary,
        )


# --- per-column schema (pandera) ----------------------------------------------------------


def _mask_check(bad: pd.Series, message: str) -> pa.Check:
    """A pandera check failing exactly the rows of precomputed mask `bad`."""

    def passes(column: pd.Series) -> pd.Series:
        return ~bad.reindex(column.index, fill_value=False)

    return pa.Check(passes, error=message)


def _schema(stage: TableStage) -> pa.DataFrameSchema:
    table = stage.table
    required, optional = REQUIRED_COLUMNS[table], OPTIONAL_COLUMNS[table]
    columns: dict[str, pa.Column] = {}
    for name in (*required, *optional):
        checks: list[pa.Check] = []
        if name in stage.times:
            parsed = stage.times[name]
            checks += [
                _mask_check(parsed.unparsable, MSG_UNPARSABLE),
                _mask_check(parsed.impossible, MSG_IMPOSSIBLE),
            ]
        if name in stage.numbers:
            number = stage.numbers[name]
            checks += [
                _mask_check(number.not_number, MSG_NOT_NUMBER),
                _mask_check(number.negative, MSG_NEGATIVE),
            ]
        if table == OPPORTUNITIES and name == "status":
            checks.append(pa.Check.isin(OPPORTUNITY_STATUSES, error=MSG_UNKNOWN_STATUS))
        columns[name] = pa.Column(
            required=name in required,
            nullable=name not in required,
            unique=UNIQUE_COLUMNS.get(table) == name,
            report_duplicates="exclude_first",
            checks=checks,
        )
    return pa.DataFrameSchema(columns, name=table)


def _check_schema(stage: TableStage, log: IssueLog) -> None:
    try:
        _schema(stage).validate(stage.frame, lazy=True)
    except SchemaErrors as exc:
        _log_failure_cases(stage, exc.failure_cases, log)


def _log_failure_cases(stage: TableStage, cases: pd.DataFrame, log: IssueLog) -> None:
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        if check == "column_in_dataframe":
            for missing in group["failure_case"]:
                log.add_table("error", stage.table, str(missing), MSG_MISSING_COLUMN)
            continue
        name = column if isinstance(column, str) else None
        if name is None or group["index"].isna().any():
            # A table-level failure no check here produces today; reported rather than lost.
            log.add_table("error", stage.table, name, str(check))
            continue
        positions = group["index"].astype("int64").to_numpy()
        if check == "not_nullable":
            log.add_rows("error", stage, name, positions, MSG_MISSING_VALUE)
        elif check == "field_uniqueness":
            log.add_rows(
                "error", stage, name, positions, _duplicate_messages(stage, name, positions)
            )
        else:
            log.add_rows("error", stage, name, positions, str(check))


def _duplicate_messages(stage: TableStage, column: str, positions: np.ndarray) -> list[str]:
    ids = stage.frame[column]
    first_seen = ids[ids.notna() & ~ids.duplicated()]
    first_row = pd.Series(first_seen.index + 1, index=first_seen.to_numpy())
    rows = first_row.reindex(ids.iloc[positions].to_numpy()).to_numpy()
    return [f"duplicate {column} (first at row {row})" for row in rows]


# --- checks across rows and tables ---------------------------------------------------------


def _check_empty(stage: TableStage, log: IssueLog) -> None:
    if len(stage.raw) == 0:
        if stage.table == LEADS:
            log.add_table("error", stage.table, None, MSG_EMPTY_TABLE)
        else:
            log.add_table("warning", stage.table, None, MSG_NO_ROWS)
        return
    for column in _watched_columns(stage):
        if _is_blank(stage.raw[column]).all():
            log.add_table("warning", stage.table, str(column), MSG_EMPTY_COLUMN)


def _watched_columns(stage: TableStage) -> list[str]:
    """Columns whose being entirely empty is worth a warning."""
    # Extra lead columns are attributes; other tables' extras are ignored.
    if stage.table == LEADS:
        return [c for c in stage.raw.columns if c not in LEAD_REQUIRED]
    return [c for c in OPTIONAL_COLUMNS[stage.table] if c in stage.raw.columns]


def _is_blank(values: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
        return values.isna() | (values.astype("str").str.strip() == "")
    return values.isna()


def _check_opportunity_dates(stage: TableStage, log: IssueLog) -> None:
    if not stage.has("status"):
        return
    status = stage.frame["status"]
    decided = status.isin(("won", "lost"))
    if not stage.has("closed_at"):
        log.add_mask("error", stage, "closed_at", decided, MSG_CLOSED_WITHOUT_DATE)
        return
    closed_given = stage.frame["closed_at"].notna()
    log.add_mask("error", stage, "closed_at", decided & ~closed_given, MSG_CLOSED_WITHOUT_DATE)
    if "created_at" in stage.times:
        closed = stage.times["closed_at"].values
        early = closed < stage.times["created_at"].values
        log.add_mask("error", stage, "closed_at", early, MSG_CLOSED_BEFORE_CREATED)
    log.add_mask(
        "warning", stage, "closed_at", (status == "open") & closed_given, MSG_OPEN_WITH_DATE
    )


@dataclass(frozen=True)
class _LeadIndex:
    """The leads table's distinct ids (arrow, for fast look-ups) and their created_at."""

    known: pa_arrow.Array
    created: np.ndarray | None

    @classmethod
    def of(cls, leads: TableStage) -> _LeadIndex | None:
        if not leads.has("lead_id"):
            return None
        lead_ids = leads.frame["lead_id"]
        first = lead_ids.notna() & ~lead_ids.duplicated()
        known = pa_arrow.array(lead_ids[first], type=pa_arrow.large_string())
        created = (
            leads.times["created_at"].values[first].to_numpy()
            if "created_at" in leads.times
            else None
        )
        return cls(known, created)


def _check_against_leads(
    leads: TableStage, activities: TableStage, opportunities: TableStage, log: IssueLog
) -> None:
    index = _LeadIndex.of(leads)
    if index is None:
        return
    _check_lead_ids(index, activities, log)
    _check_lead_ids(index, opportunities, log)


def _check_lead_ids(index: _LeadIndex, stage: TableStage, log: IssueLog) -> None:
    """Rows of `stage` naming an unknown lead (errors), or dated before their lead (warnings)."""
    stamp, message = (
        ("occurred_at", MSG_ACTIVITY_BEFORE_LEAD)
        if stage.table == ACTIVITIES
        else ("created_at", MSG_OPPORTUNITY_BEFORE_LEAD)
    )
    if not stage.has("lead_id"):
        return
    ids = stage.frame["lead_id"]
    position = _positions_in(index.known, ids)
    unknown = (position < 0) & ids.notna().to_numpy()
    log.add_mask("error", stage, "lead_id", unknown, MSG_UNKNOWN_LEAD)
    if index.created is None or stamp not in stage.times:
        return
    found = position >= 0
    lead_created = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    lead_created[found] = index.created[position[found]]
    happened = stage.times[stamp].values.to_numpy()
    early = found & ~np.isnat(happened) & ~np.isnat(lead_created) & (happened < lead_created)
    log.add_rows("warning", stage, stamp, np.flatnonzero(early), message)


def _positions_in(known: pa_arrow.Array, ids: pd.Series) -> np.ndarray:
    """Position of each id in `known` (unique), -1 when absent; arrow hashing keeps 2M ids fast."""
    found = pc.index_in(pa_arrow.array(ids, type=pa_arrow.large_string()), value_set=known)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
