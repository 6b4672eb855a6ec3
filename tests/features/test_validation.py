"""Validation of raw export tables: every problem found, with table, column, row and value."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features import validation as v
from features.contract import LEAD_OPTIONAL, Export
from features.issues import Issue, ValidationReport
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


def test_open_opportunity_with_closed_at_is_kept_open_without_it() -> None:
    tables = good_tables()
    set_cell("opportunities", 2, "closed_at", "2024-06-01T00:00:00Z")(tables)
    export, _ = validate(tables)
    assert export is not None
    assert export.opportunities.loc[1, "status"] == "open"
    assert pd.isna(export.opportunities.loc[1, "closed_at"])


def test_timestamps_are_tz_naive_utc_with_offsets_converted() -> None:
    tables = good_tables()
    tables["leads"]["created_at"] = [
        "2024-01-01T10:00:00+02:00",
        "2024-01-02 10:00:00",
        "2024-01-03T10:00:00.250-05:30",
    ]
    export, report = validate(tables)
    assert report.ok, report.issues
    assert export is not None
    assert export.leads["created_at"].dtype == "datetime64[ns]"
    assert export.leads["created_at"].tolist() == [
        pd.Timestamp("2024-01-01 08:00:00"),
        pd.Timestamp("2024-01-02 10:00:00"),
        pd.Timestamp("2024-01-03 15:30:00.250"),
    ]


def test_normalised_export_follows_the_contract() -> None:
    tables = good_tables()
    tables["opportunities"]["status"] = [" Won", "OPEN ", "Lost"]
    tables["activities"]["activity_type"] = [" page_view ", "email_open", "demo_request"]
    tables["activities"]["campaign_ref"] = "x"  # extra activity column: ignored quietly
    export, report = validate(tables)
    assert report.issues == ()
    assert export is not None
    leads, acts, opps = export.leads, export.activities, export.opportunities
    assert list(leads.columns[:2]) == ["lead_id", "created_at"]
    assert set(LEAD_OPTIONAL) <= set(leads.columns)
    assert leads["company_size"].dtype == "float64"
    assert leads["company_size"].tolist()[:2] == [10.0, 200.0]
    assert leads["industry"].isna().all()
    assert export.extra_lead_columns == ["fit_score", "tier"]
    assert pd.api.types.is_numeric_dtype(leads["fit_score"])
    assert leads["fit_score"].tolist()[:2] == [1.5, 2.0]
    assert leads["tier"].tolist()[:2] == ["gold", "silver"]
    assert list(acts.columns) == ["lead_id", "occurred_at", "activity_type", "detail"]
    assert acts["activity_type"].tolist() == ["page_view", "email_open", "demo_request"]
    assert acts["occurred_at"].dtype == "datetime64[ns]"
    assert list(opps.columns) == [
        "opportunity_id",
        "lead_id",
        "created_at",
        "closed_at",
        "status",
        "amount",
    ]
    assert opps["status"].tolist() == ["won", "open", "lost"]
    assert opps["closed_at"].dtype == "datetime64[ns]" and pd.isna(opps.loc[1, "closed_at"])
    assert opps["amount"].dtype == "float64"
    assert opps["amount"].tolist()[0] == 1000.0


def test_missing_optional_columns_are_added_empty() -> None:
    tables = good_tables()
    tables["leads"] = tables["leads"][["lead_id", "created_at"]]
    tables["activities"] = tables["activities"].drop(columns="detail")
    tables["opportunities"] = tables["opportunities"].drop(columns="amount")
    export, report = validate(tables)
    assert report.ok and export is not None
    assert export.leads["company_size"].dtype == "float64"
    assert export.leads[list(LEAD_OPTIONAL)].isna().all().all()
    assert export.activities["detail"].isna().all()
    assert export.opportunities["amount"].dtype == "float64"
    assert export.extra_lead_columns == []


def test_native_dtypes_normalise_like_strings() -> None:
    """Parquet hands on native dtypes: tz-aware stamps, integer ids, numbers."""
    tables = good_tables()
    expected, _ = validate(good_tables())
    leads = tables["leads"].copy()
    leads["created_at"] = pd.to_datetime(leads["created_at"]).dt.tz_convert("Europe/Berlin")
    leads["company_size"] = pd.to_numeric(leads["company_size"])
    acts = tables["activities"].copy()
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"]).dt.tz_localize(None)
    acts["occurred_at"] = acts["occurred_at"].astype("datetime64[us]")
    opps = tables["opportunities"].copy()
    opps["amount"] = pd.to_numeric(opps["amount"])
    opps["status"] = opps["status"].astype("category")
    export, report = validate_tables(leads, acts, opps)
    assert report.ok, report.issues
    assert export is not None and expected is not None
    pd.testing.assert_frame_equal(export.leads, expected.leads)
    pd.testing.assert_frame_equal(export.activities, expected.activities)
    pd.testing.assert_frame_equal(export.opportunities, expected.opportunities)


def test_blank_optional_cells_are_missing_not_bad() -> None:
    tables = good_tables()
    set_cell("leads", 1, "company_size", "")(tables)
    set_cell("opportunities", 2, "closed_at", " ")(tables)
    export, report = validate(tables)
    assert report.issues == ()
    assert export is not None
    assert pd.isna(export.leads.loc[0, "company_size"])


def test_integer_ids_match_string_ids() -> None:
    tables = good_tables()
    tables["leads"]["lead_id"] = pd.Series([1, 2, 3], dtype="int64")
    tables["activities"]["lead_id"] = ["1", "2", " 3 "]
    tables["opportunities"]["lead_id"] = pd.Series([1.0, 2.0, 3.0])
    export, report = validate(tables)
    assert report.ok, report.issues
    assert export is not None
    assert export.leads["lead_id"].tolist() == ["1", "2", "3"]
    assert export.activities["lead_id"].tolist() == ["1", "2", "3"]
    assert export.opportunities["lead_id"].tolist() == ["1", "2", "3"]


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
