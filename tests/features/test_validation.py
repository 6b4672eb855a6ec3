"""Validation of raw export tables: every problem found, with table, column, row and value."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from features import validation as v
from features.issues import Issue, ValidationReport
from tests.features.export_tables import (
    drop_column,
    good_tables,
    has_issue,
    set_cell,
    validate,
)


def test_good_tables_pass_without_issues() -> None:
    export, report = validate(good_tables())
    assert report.ok
    assert report.issues == ()
    assert export is not None
    assert len(export.leads) == 3 and len(export.activities) == 3


BAD_EXPORTS = {
    "missing required lead column": (
        drop_column("leads", "created_at"),
        ("error", "leads", "created_at", None, None, v.MSG_MISSING_COLUMN),
    ),
    "missing required activity column": (
        drop_column("activities", "activity_type"),
        ("error", "activities", "activity_type", None, None, v.MSG_MISSING_COLUMN),
    ),
    "missing status column": (
        drop_column("opportunities", "status"),
        ("error", "opportunities", "status", None, None, v.MSG_MISSING_COLUMN),
    ),
    "duplicate lead_id": (
        set_cell("leads", 3, "lead_id", "L1"),
        ("error", "leads", "lead_id", 3, "L1", "duplicate lead_id (first at row 1)"),
    ),
    "empty lead_id": (
        set_cell("leads", 2, "lead_id", None),
        ("error", "leads", "lead_id", 2, None, v.MSG_MISSING_VALUE),
    ),
    "blank lead_id": (
        set_cell("leads", 2, "lead_id", "   "),
        ("error", "leads", "lead_id", 2, "   ", v.MSG_MISSING_VALUE),
    ),
    "blank created_at": (
        set_cell("leads", 2, "created_at", "  "),
        ("error", "leads", "created_at", 2, "  ", v.MSG_MISSING_VALUE),
    ),
    "unparsable created_at": (
        set_cell("leads", 2, "created_at", "01/02/2024"),
        ("error", "leads", "created_at", 2, "01/02/2024", v.MSG_UNPARSABLE),
    ),
    "impossible date": (
        set_cell("leads", 1, "created_at", "2024-02-30T10:00:00Z"),
        ("error", "leads", "created_at", 1, "2024-02-30T10:00:00Z", v.MSG_IMPOSSIBLE),
    ),
    "impossible hour": (
        set_cell("activities", 2, "occurred_at", "2024-01-06 25:00"),
        ("error", "activities", "occurred_at", 2, "2024-01-06 25:00", v.MSG_IMPOSSIBLE),
    ),
    "placeholder year": (
        set_cell("leads", 3, "created_at", "1900-01-01"),
        ("error", "leads", "created_at", 3, "1900-01-01", v.MSG_IMPOSSIBLE),
    ),
    "empty required timestamp": (
        set_cell("activities", 3, "occurred_at", None),
        ("error", "activities", "occurred_at", 3, None, v.MSG_MISSING_VALUE),
    ),
    "unparsable closed_at": (
        set_cell("opportunities", 1, "closed_at", "soon"),
        ("error", "opportunities", "closed_at", 1, "soon", v.MSG_UNPARSABLE),
    ),
    "activity of unknown lead": (
        set_cell("activities", 2, "lead_id", "L9"),
        ("error", "activities", "lead_id", 2, "L9", v.MSG_UNKNOWN_LEAD),
    ),
    "opportunity of unknown lead": (
        set_cell("opportunities", 3, "lead_id", "L404"),
        ("error", "opportunities", "lead_id", 3, "L404", v.MSG_UNKNOWN_LEAD),
    ),
    "duplicate opportunity_id": (
        set_cell("opportunities", 2, "opportunity_id", "O1"),
        ("error", "opportunities", "opportunity_id", 2, "O1", "first at row 1"),
    ),
    "closed before created": (
        set_cell("opportunities", 3, "closed_at", "2024-01-01T00:00:00Z"),
        (
            "error",
            "opportunities",
            "closed_at",
            3,
            "2024-01-01T00:00:00Z",
            v.MSG_CLOSED_BEFORE_CREATED,
        ),
    ),
    "won without closed_at": (
        set_cell("opportunities", 1, "closed_at", None),
        ("error", "opportunities", "closed_at", 1, None, v.MSG_CLOSED_WITHOUT_DATE),
    ),
    "lost without closed_at column": (
        drop_column("opportunities", "closed_at"),
        ("error", "opportunities", "closed_at", 3, None, v.MSG_CLOSED_WITHOUT_DATE),
    ),
    "unknown status": (
        set_cell("opportunities", 2, "status", "Closed Won"),
        ("error", "opportunities", "status", 2, "Closed Won", v.MSG_UNKNOWN_STATUS),
    ),
    "empty status": (
        set_cell("opportunities", 2, "status", None),
        ("error", "opportunities", "status", 2, None, v.MSG_MISSING_VALUE),
    ),
    "negative company_size": (
        set_cell("leads", 2, "company_size", "-3"),
        ("error", "leads", "company_size", 2, "-3", v.MSG_NEGATIVE),
    ),
    "non-numeric company_size": (
        set_cell("leads", 1, "company_size", "ten"),
        ("error", "leads", "company_size", 1, "ten", v.MSG_NOT_NUMBER),
    ),
    "non-numeric amount": (
        set_cell("opportunities", 1, "amount", "1,000"),
        ("error", "opportunities", "amount", 1, "1,000", v.MSG_NOT_NUMBER),
    ),
    "negative amount": (
        set_cell("opportunities", 3, "amount", "-50"),
        ("error", "opportunities", "amount", 3, "-50", v.MSG_NEGATIVE),
    ),
    "empty activity_type": (
        set_cell("activities", 1, "activity_type", "  "),
        ("error", "activities", "activity_type", 1, "  ", v.MSG_MISSING_VALUE),
    ),
}


@pytest.mark.parametrize("change, expected", BAD_EXPORTS.values(), ids=BAD_EXPORTS.keys())
def test_bad_export_reports_the_specific_issue(change, expected) -> None:
    tables = good_tables()
    change(tables)
    export, report = validate(tables)
    assert export is None
    assert not report.ok
    assert has_issue(report, *expected), report.issues


def test_empty_leads_table_is_an_error() -> None:
    tables = good_tables()
    tables["leads"] = tables["leads"].iloc[0:0]
    export, report = validate(tables)
    assert export is None
    assert has_issue(report, "error", "leads", None, None, None, v.MSG_EMPTY_TABLE)


def test_every_problem_is_reported_at_once() -> None:
    tables = good_tables()
    chosen = [
        BAD_EXPORTS[name]
        for name in (
            "duplicate lead_id",
            "unparsable created_at",
            "negative company_size",
            "impossible hour",
            "activity of unknown lead",
            "empty activity_type",
            "duplicate opportunity_id",
            "closed before created",
            "non-numeric amount",
        )
    ]
    for change, _ in chosen:
        change(tables)
    export, report = validate(tables)
    assert export is None
    # Renaming L3 to a duplicate L1 also leaves L3's activity and opportunity without a lead.
    knock_on = [
        ("error", "activities", "lead_id", 3, "L3", v.MSG_UNKNOWN_LEAD),
        ("error", "opportunities", "lead_id", 3, "L3", v.MSG_UNKNOWN_LEAD),
    ]
    expected = [e for _, e in chosen] + knock_on
    for issue in expected:
        assert has_issue(report, *issue), issue
    assert len(report.errors) == len(expected)


def test_issues_of_many_rows_are_all_counted() -> None:
    tables = good_tables()
    many = pd.concat([tables["activities"]] * 400, ignore_index=True)
    many.loc[::2, "occurred_at"] = "yesterday"
    tables["activities"] = many
    _, report = validate(tables)
    assert len(report.errors) == 600
    assert [i.row for i in report.errors[:3]] == [1, 3, 5]


WARNINGS = {
    "activity before its lead was created": (
        set_cell("activities", 1, "occurred_at", "2023-12-31T00:00:00Z"),
        (
            "warning",
            "activities",
            "occurred_at",
            1,
            "2023-12-31T00:00:00Z",
            v.MSG_ACTIVITY_BEFORE_LEAD,
        ),
    ),
    "opportunity before its lead was created": (
        set_cell("opportunities", 2, "created_at", "2023-06-01T00:00:00Z"),
        (
            "warning",
            "opportunities",
            "created_at",
            2,
            "2023-06-01T00:00:00Z",
            v.MSG_OPPORTUNITY_BEFORE_LEAD,
        ),
    ),
    "open opportunity with closed_at": (
        set_cell("opportunities", 2, "closed_at", "2024-06-01T00:00:00Z"),
        ("warning", "opportunities", "closed_at", 2, "2024-06-01T00:00:00Z", v.MSG_OPEN_WITH_DATE),
    ),
    "entirely empty optional column": (
        set_cell("activities", 1, "detail", None),
        ("warning", "activities", "detail", None, None, v.MSG_EMPTY_COLUMN),
    ),
    "entirely empty extra lead column": (
        lambda tables: tables.update(leads=tables["leads"].assign(notes=None)),
        ("warning", "leads", "notes", None, None, v.MSG_EMPTY_COLUMN),
    ),
    "no opportunities": (
        lambda tables: tables.update(opportunities=tables["opportunities"].iloc[0:0]),
        ("warning", "opportunities", None, None, None, v.MSG_NO_ROWS),
    ),
}


@pytest.mark.parametrize("change, expected", WARNINGS.values(), ids=WARNINGS.keys())
def test_warnings_are_reported_and_do_not_fail(change, expected) -> None:
    tables = good_tables()
    change(tables)
    export, report = validate(tables)
    assert report.ok
    assert export is not None
    assert report.errors == ()
    assert has_issue(report, *expected), report.issues


def test_native_timestamps_out_of_range_are_impossible() -> None:
    tables = good_tables()
    stamps = pd.to_datetime(tables["leads"]["created_at"]).dt.tz_localize(None)
    stamps = stamps.astype("datetime64[us]")
    stamps[1] = pd.Timestamp("1899-12-31")
    tables["leads"]["created_at"] = stamps
    _, report = validate(tables)
    assert has_issue(report, "error", "leads", "created_at", 2, "1899-12-31 00:00:00", "impossible")


def test_row_numbers_count_rows_as_read_not_the_frame_index() -> None:
    tables = good_tables()
    tables["leads"].index = [10, 20, 30]
    set_cell("activities", 3, "lead_id", "L404")(tables)
    tables["leads"].loc[30, "created_at"] = "never"
    _, report = validate(tables)
    assert has_issue(report, "error", "leads", "created_at", 3, "never", v.MSG_UNPARSABLE)
    assert has_issue(report, "error", "activities", "lead_id", 3, "L404", v.MSG_UNKNOWN_LEAD)


def test_missing_lead_ids_are_not_also_reported_as_unknown() -> None:
    tables = good_tables()
    set_cell("activities", 1, "lead_id", None)(tables)
    _, report = validate(tables)
    assert [(i.table, i.column, i.row, i.message) for i in report.issues] == [
        ("activities", "lead_id", 1, v.MSG_MISSING_VALUE)
    ]


def test_inputs_are_left_unchanged() -> None:
    tables = good_tables()
    before = {name: frame.copy() for name, frame in tables.items()}
    validate(tables)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_report_splits_errors_and_warnings() -> None:
    issues = (
        Issue("warning", "activities", "detail", None, None, "w"),
        Issue("error", "leads", "lead_id", 2, "L1", "e"),
    )
    report = ValidationReport(issues)
    assert report.errors == (issues[1],)
    assert report.warnings == (issues[0],)
    assert not report.ok
    assert ValidationReport(issues[:1]).ok


def test_large_activity_table_is_validated_vectorised() -> None:
    """200k activities: a per-row Python loop would take far longer than this bound."""
    rng = np.random.default_rng(0)
    tables = good_tables()
    n = 200_000
    stamps = pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
    tables["activities"] = pd.DataFrame(
        {
            "lead_id": pd.Series(rng.choice(["L1", "L2", "L3"], n), dtype="str"),
            "occurred_at": pd.Series(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), dtype="str"),
            "activity_type": pd.Series(rng.choice(["page_view", "email_open"], n), dtype="str"),
        }
    )
    started = time.perf_counter()
    export, report = validate(tables)
    elapsed = time.perf_counter() - started
    assert report.ok and export is not None
    assert len(export.activities) == n
    assert elapsed < 10


def batches(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    """`frame` as a reader hands on a big table: pieces of `rows` rows, each indexed from 0."""
    return [
        frame.iloc[start : start + rows].reset_index(drop=True)
        for start in range(0, max(len(frame), 1), rows)
    ]


CHANGES = {**BAD_EXPORTS, **WARNINGS, "good": (lambda tables: None, None)}


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("change, expected", CHANGES.values(), ids=CHANGES.keys())
def test_activities_in_batches_give_the_same_report(change, expected, rows: int) -> None:
    tables = good_tables()
    change(tables)
    # Rows enough that batches of one or two cut the table in several places.
    tables["activities"] = pd.concat([tables["activities"]] * 2, ignore_index=True)
    export, whole = validate(tables)
    batched = v.validate_in_batches(
        tables["leads"], batches(tables["activities"], rows), tables["opportunities"]
    )
    assert batched.report == whole
    if expected is not None:
        assert has_issue(batched.report, *expected)
    assert (batched.leads is None) == (export is None)
    if export is not None:
        assert batched.leads is not None and batched.opportunities is not None
        pd.testing.assert_frame_equal(batched.leads, export.leads)
        pd.testing.assert_frame_equal(batched.opportunities, export.opportunities)
        summary = batched.activities
        assert summary.rows == len(export.activities)
        assert summary.first == export.activities["occurred_at"].min()
        assert summary.last == export.activities["occurred_at"].max()
        assert summary.types == set(export.activities["activity_type"])


def test_an_activities_table_without_rows_or_with_a_blank_column_warns_once() -> None:
    tables = good_tables()
    tables["activities"]["detail"] = None
    report = v.validate_in_batches(
        tables["leads"], batches(tables["activities"], 1), tables["opportunities"]
    ).report
    assert [i.column for i in report.warnings] == ["detail"]
    empty = tables["activities"].iloc[:0]
    report = v.validate_in_batches(tables["leads"], [], tables["opportunities"]).report
    assert [i.message for i in report.warnings] == [v.MSG_NO_ROWS]
    assert report == validate({**tables, "activities": empty})[1]
