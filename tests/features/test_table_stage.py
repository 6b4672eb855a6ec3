"""An export's tables parsed and normalised: UTC timestamps, native dtypes, ids, blanks."""

from __future__ import annotations

import pandas as pd

from features.contract import LEAD_OPTIONAL
from features.validation import validate_tables
from tests.features.export_tables import good_tables, set_cell, validate


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
