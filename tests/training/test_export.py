"""Reading export folders: files found, csv and parquet read, errors shown without tracebacks."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from features.validation import MSG_ACTIVITY_BEFORE_LEAD, MSG_UNKNOWN_LEAD, MSG_UNPARSABLE
from training.export import (
    MAX_ISSUES_SHOWN_PER_TABLE,
    ExportError,
    ExportRead,
    check_export,
    read_export,
    write_export,
)

LEADS_CSV = """lead_id,created_at,country,company_size,job_title,plan_tier
L1,2024-01-01T09:00:00Z,NA,12,None,gold
L2,2024-01-02T10:00:00+02:00,DE,,CTO,3
L3,2024-01-03 08:30:00,US,500,,silver
"""
ACTIVITIES_CSV = """lead_id,occurred_at,activity_type,detail
L1,2024-01-04T00:00:00Z,page_view,"/pricing
second line"
L2,2024-01-05T00:00:00Z,Email_Open ,
L3,2024-01-06T00:00:00Z,demo_request,
"""
OPPORTUNITIES_CSV = """opportunity_id,lead_id,created_at,closed_at,status,amount
O1,L1,2024-01-10T00:00:00Z,2024-02-10T00:00:00Z,Won,1200.50
O2,L3,2024-01-11T00:00:00Z,,open,
"""


def write_csv_export(folder: Path, **overrides: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "leads": LEADS_CSV,
        "activities": ACTIVITIES_CSV,
        "opportunities": OPPORTUNITIES_CSV,
    }
    tables.update(overrides)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def rendered(printable, width: int = 200) -> str:
    console = Console(record=True, width=width)
    printable(console)
    return console.export_text()


def test_reads_csv_export_and_ignores_other_files(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    (folder / "truth.csv").write_text("lead_id,p_true,won\nL1,0.5,1\n")
    (folder / "notes.txt").write_text("not a table")
    result = read_export(folder)
    assert isinstance(result, ExportRead)
    assert result.report.ok
    export = result.export
    assert export.leads["lead_id"].tolist() == ["L1", "L2", "L3"]
    # Offsets converted to UTC, no offset means UTC.
    assert export.leads["created_at"].tolist() == [
        pd.Timestamp("2024-01-01 09:00"),
        pd.Timestamp("2024-01-02 08:00"),
        pd.Timestamp("2024-01-03 08:30"),
    ]
    # Only empty cells are missing: "NA" (Namibia) and "None" are values.
    assert export.leads["country"].tolist() == ["NA", "DE", "US"]
    assert export.leads["job_title"].tolist()[0] == "None"
    assert pd.isna(export.leads["company_size"].iloc[1])
    assert export.leads["plan_tier"].tolist() == ["gold", "3", "silver"]
    assert export.activities["detail"].iloc[0] == "/pricing\nsecond line"
    assert export.activities["activity_type"].tolist()[1] == "Email_Open"
    assert export.opportunities["status"].tolist() == ["won", "open"]
    assert export.opportunities["amount"].iloc[0] == 1200.5


def test_csv_and_parquet_exports_read_the_same(tmp_path: Path) -> None:
    from_csv = read_export(write_csv_export(tmp_path / "csv")).export
    write_export(from_csv, tmp_path / "parquet", fmt="parquet")
    write_export(from_csv, tmp_path / "csv_again", fmt="csv")
    for folder in ("parquet", "csv_again"):
        again = read_export(tmp_path / folder).export
        for table in ("leads", "activities", "opportunities"):
            pd.testing.assert_frame_equal(
                getattr(again, table), getattr(from_csv, table), check_dtype=False
            )
            assert (getattr(again, table).dtypes == getattr(from_csv, table).dtypes).all()


def test_parquet_with_tz_aware_timestamps_is_converted_to_utc(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    leads = pd.read_csv(folder / "leads.csv", dtype=str, keep_default_na=False)
    leads["created_at"] = pd.to_datetime(leads["created_at"], utc=True, format="ISO8601")
    leads["created_at"] = leads["created_at"].dt.tz_convert("America/New_York")
    leads.to_parquet(folder / "leads.parquet", index=False)
    (folder / "leads.csv").unlink()
    export = read_export(folder).export
    assert export.leads["created_at"].dtype == "datetime64[ns]"
    assert export.leads["created_at"].iloc[1] == pd.Timestamp("2024-01-02 08:00")


def test_table_in_both_formats_is_an_error(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    pd.read_csv(folder / "leads.csv").to_parquet(folder / "leads.parquet")
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    (issue,) = caught.value.report.issues
    assert (issue.table, issue.severity) == ("leads", "error")
    assert "leads.csv and leads.parquet" in issue.message


def test_missing_tables_are_all_named(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    (folder / "activities.csv").unlink()
    (folder / "opportunities.csv").unlink()
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    assert [i.table for i in caught.value.report.errors] == ["activities", "opportunities"]
    text = rendered(caught.value.print)
    assert "no activities.csv or activities.parquet" in text
    assert "no opportunities.csv or opportunities.parquet" in text


def test_missing_folder_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        read_export(tmp_path / "nowhere")
    assert "does not exist" in str(caught.value)
    assert caught.value.path == tmp_path / "nowhere"
    assert "does not exist" in rendered(caught.value.print)


def test_unreadable_file_gives_a_clear_error(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export")
    (folder / "opportunities.csv").unlink()
    (folder / "opportunities.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    (issue,) = caught.value.report.issues
    assert issue.table == "opportunities"
    assert issue.value == "opportunities.parquet"
    assert issue.message.startswith("cannot read file")


def test_empty_csv_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    folder = write_csv_export(tmp_path / "export", activities="")
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    assert [i.table for i in caught.value.report.errors] == ["activities"]


def test_rows_longer_than_the_header_are_unreadable_not_shifted(tmp_path: Path) -> None:
    opportunities = OPPORTUNITIES_CSV.replace("1200.50", "1200.50,surplus").replace(
        ",open,", ",open,,surplus"
    )
    folder = write_csv_export(tmp_path / "export", opportunities=opportunities)
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    (issue,) = caught.value.report.issues
    assert issue.table == "opportunities"
    assert "more values than the header" in issue.message


def test_bad_rows_are_reported_with_their_csv_row(tmp_path: Path) -> None:
    activities = ACTIVITIES_CSV.replace("2024-01-05T00:00:00Z", "5 Jan 2024").replace(
        "L3,2024-01-06", "L7,2024-01-06"
    )
    folder = write_csv_export(tmp_path / "export", activities=activities)
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    found = {(i.table, i.column, i.row, i.value, i.message) for i in caught.value.report.errors}
    assert found == {
        ("activities", "occurred_at", 2, "5 Jan 2024", MSG_UNPARSABLE),
        ("activities", "lead_id", 3, "L7", MSG_UNKNOWN_LEAD),
    }


def test_error_listing_is_capped_per_table_but_counts_all(tmp_path: Path) -> None:
    rows = "".join(f"L1,not-a-date-{i},page_view,\n" for i in range(120))
    folder = write_csv_export(
        tmp_path / "export", activities="lead_id,occurred_at,activity_type,detail\n" + rows
    )
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    assert len(caught.value.report.errors) == 120
    text = rendered(caught.value.print)
    assert "120 errors" in text
    assert f"... and {120 - MAX_ISSUES_SHOWN_PER_TABLE} more in activities" in text
    assert "not-a-date-49" in text and "not-a-date-50" not in text


def test_warnings_are_logged_and_shown_in_the_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    activities = ACTIVITIES_CSV.replace("2024-01-04T00:00:00Z", "2023-12-24T00:00:00Z")
    folder = write_csv_export(tmp_path / "export", activities=activities)
    with caplog.at_level(logging.WARNING, logger="training.export"):
        result = read_export(folder)
    assert [(i.table, i.row, i.message) for i in result.report.warnings] == [
        ("activities", 1, MSG_ACTIVITY_BEFORE_LEAD)
    ]
    assert MSG_ACTIVITY_BEFORE_LEAD in caplog.text
    text = rendered(result.print_summary)
    assert "1 warning" in text and MSG_ACTIVITY_BEFORE_LEAD in text
    assert "2023-12-24T00:00:00Z" in text


def test_summary_shows_row_counts_and_time_span(tmp_path: Path) -> None:
    result = read_export(write_csv_export(tmp_path / "export"))
    text = rendered(result.print_summary)
    assert "leads" in text and "2024-01-01" in text and "2024-01-03" in text
    assert "1 won" in text and "1 open" in text
    assert "plan_tier" in text


def outcome(read) -> tuple[object, str]:
    """The report of a read or check, and what it prints (the summary, or the errors)."""
    try:
        result = read()
    except ExportError as exc:
        return exc.report, rendered(exc.print)
    return result.report, rendered(result.print_summary)


LATER_EXPORTS = {
    "good": {},
    "bad rows": {
        "activities": ACTIVITIES_CSV.replace("2024-01-05T00:00:00Z", "5 Jan 2024").replace(
            "L3,2024-01-06", "L7,2024-01-06"
        )
    },
    "a warning": {
        "activities": ACTIVITIES_CSV.replace("2024-01-04T00:00:00Z", "2023-12-24T00:00:00Z")
    },
    "no activities": {"activities": "lead_id,occurred_at,activity_type,detail\n"},
    "an empty file": {"activities": ""},
    "rows longer than the header": {
        "activities": ACTIVITIES_CSV.replace("demo_request,", "demo_request,,surplus")
    },
    "a missing column": {"activities": ACTIVITIES_CSV.replace("activity_type", "kind")},
}


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("overrides", LATER_EXPORTS.values(), ids=LATER_EXPORTS.keys())
def test_checking_in_batches_reports_and_prints_what_reading_whole_does(
    tmp_path: Path, overrides: dict[str, str], rows: int
) -> None:
    folder = write_csv_export(tmp_path / "export", **overrides)
    whole_report, whole_text = outcome(lambda: read_export(folder))
    batched_report, batched_text = outcome(lambda: check_export(folder, batch_rows=rows))
    assert batched_report == whole_report
    assert batched_text == whole_text


@pytest.mark.parametrize("rows", [1, 2, 100])
def test_a_partitioned_parquet_export_checks_in_batches_like_whole(
    tmp_path: Path, rows: int
) -> None:
    # Pieces of one file, pieces of two files joined (their dictionaries too), all at once.
    read = read_export(write_csv_export(tmp_path / "csv"))
    folder = tmp_path / "parquet"
    write_export(read.export, folder, fmt="parquet", partitions=3)
    whole_report, whole_text = outcome(lambda: read_export(folder))
    batched_report, batched_text = outcome(lambda: check_export(folder, batch_rows=rows))
    assert batched_report == whole_report
    assert batched_text.replace("parquet", "") == whole_text.replace("parquet", "")
    assert "3 types" in batched_text
