"""Exports as folders of partitioned parquet files, csv partitions and fsspec URLs."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pandas as pd
import pytest

from demo.world import DemoWorld
from features.contract import TABLES
from training.export import ExportError, read_export, write_export


def _same_export(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    left = a.sort_values(key, ignore_index=True)
    right = b.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


@pytest.fixture(scope="module")
def single_files(small_world: DemoWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("single")
    write_export(small_world.export, folder, fmt="parquet")
    return folder


def test_partitioned_parquet_folders_read_as_the_single_files(
    small_world: DemoWorld, single_files: Path, tmp_path: Path
) -> None:
    written = write_export(small_world.export, tmp_path, fmt="parquet", partitions=4)
    assert {p.parent.name for p in written} == set(TABLES)
    assert len(list((tmp_path / "activities").glob("*.parquet"))) == 4
    (tmp_path / "activities" / "_SUCCESS").write_text("")  # Spark's marker is skipped
    expected = read_export(single_files).export
    for location in (tmp_path, tmp_path.as_uri(), str(tmp_path)):
        got = read_export(location).export
        _same_export(got.leads, expected.leads, ["lead_id"])
        _same_export(
            got.activities, expected.activities, ["lead_id", "occurred_at", "activity_type"]
        )
        _same_export(got.opportunities, expected.opportunities, ["opportunity_id"])


def test_csv_partitions_in_a_folder(small_world: DemoWorld, tmp_path: Path) -> None:
    export = small_world.export
    write_export(export, tmp_path, fmt="csv")
    (tmp_path / "activities").mkdir()
    activities = pd.read_csv(tmp_path / "activities.csv", dtype=str)
    half = len(activities) // 2
    activities.iloc[:half].to_csv(tmp_path / "activities" / "a.csv", index=False)
    activities.iloc[half:].to_csv(tmp_path / "activities" / "b.csv", index=False)
    (tmp_path / "activities.csv").unlink()
    got = read_export(tmp_path).export
    assert len(got.activities) == len(export.activities)
    assert got.activities["occurred_at"].max() == export.activities["occurred_at"].max()


def test_memory_filesystem_url(single_files: Path) -> None:
    fs = fsspec.filesystem("memory")
    for table in TABLES:
        fs.pipe(f"/export/{table}.parquet", (single_files / f"{table}.parquet").read_bytes())
    got = read_export("memory://export").export
    expected = read_export(single_files).export
    assert len(got.leads) == len(expected.leads)
    assert len(got.activities) == len(expected.activities)


def test_table_as_file_and_folder_is_ambiguous(single_files: Path, tmp_path: Path) -> None:
    for table in TABLES:
        (tmp_path / f"{table}.parquet").write_bytes(
            (single_files / f"{table}.parquet").read_bytes()
        )
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "x.parquet").write_bytes((single_files / "leads.parquet").read_bytes())
    (tmp_path / "opportunities").mkdir()
    (tmp_path / "opportunities" / "x.csv").write_text("a\n1\n")
    (tmp_path / "opportunities" / "y.parquet").write_bytes(b"")
    (tmp_path / "opportunities.parquet").unlink()
    with pytest.raises(ExportError) as caught:
        read_export(tmp_path)
    messages = {i.table: i.message for i in caught.value.report.errors}
    assert "leads/ and leads.parquet" in messages["leads"]
    assert "only .csv or only .parquet" in messages["opportunities"]


def test_unknown_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(ExportError) as caught:
        read_export("nosuchscheme://bucket/export")
    assert "cannot open" in caught.value.message


def test_demo_data_parquet_streams_batches_into_partitions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from demo.stream import write_streamed_world
    from demo.world import DemoConfig

    written = write_streamed_world(
        DemoConfig(n_leads=1_500, seed=3), tmp_path / "w", batch_leads=600, partitions=3
    )
    assert written.leads == 1_500
    files = sorted((tmp_path / "w" / "leads").glob("*.parquet"))
    assert len(files) >= 7  # 3 batches x up to 3 partitions
    export = read_export(tmp_path / "w").export
    assert len(export.leads) == 1_500 and export.leads["lead_id"].is_unique
    assert len(export.activities) == written.activities
    truth = pd.read_csv(tmp_path / "w" / "truth.csv")
    assert len(truth) == written.open_leads and truth["lead_id"].isin(export.leads["lead_id"]).all()
    result = CliRunner().invoke(app, ["validate", "--data", (tmp_path / "w").as_uri()])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_activity_types_are_read_dictionary_encoded_from_every_kind_of_table(
    small_world: DemoWorld, tmp_path: Path
) -> None:
    """One Categorical per export whatever its files: csv or parquet, one file or partitions
    whose files hold different types (and padded spellings, which merge once stripped); the
    values are the ones the strings had."""
    export = small_world.export
    write_export(export, tmp_path / "csv", fmt="csv")
    write_export(export, tmp_path / "parts", fmt="parquet", partitions=4)
    # A partition file whose only types are unusual spellings of real ones plus a new one.
    extra = export.activities.head(3).assign(activity_type=[" email_open", "page_view ", "odd"])
    extra["lead_id"] = export.leads["lead_id"].iloc[0]
    extra.to_parquet(tmp_path / "parts" / "activities" / "part-99999-00000.parquet", index=False)
    strings = export.activities["activity_type"].astype(str)
    expected = sorted({*strings, "odd"})
    for folder in ("csv", "parts"):
        got = read_export(tmp_path / folder).export.activities
        types = got["activity_type"]
        assert isinstance(types.dtype, pd.CategoricalDtype)
        assert list(types.cat.categories) == (
            expected if folder == "parts" else sorted(set(strings))
        )
        assert (types.cat.codes >= 0).all()  # no value was lost to the encoding
        counted = types.astype(str).value_counts()
        want = strings.value_counts()
        if folder == "parts":
            want = pd.concat(
                [strings, pd.Series(["email_open", "page_view", "odd"])]
            ).value_counts()
        pd.testing.assert_series_equal(counted.sort_index(), want.sort_index(), check_names=False)


def test_training_reads_leave_out_activity_details(single_files: Path) -> None:
    whole = read_export(single_files).export.activities
    lean = read_export(single_files, whole=False).export.activities
    assert "detail" in whole.columns
    assert lean["detail"].isna().all()  # the contract's optional column, left unread
    pd.testing.assert_frame_equal(lean.drop(columns="detail"), whole.drop(columns="detail"))
