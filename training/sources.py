"""Where an export's tables are: local folders or fsspec URLs, one file or many per table.

An export location is a folder path or a URL that fsspec understands (``file://``, and
``s3://``, ``gs://``, ``abfs://`` when s3fs, gcsfs or adlfs is installed). In it, each table
(leads, activities, opportunities) is one of:
- a file ``<table>.csv`` or ``<table>.parquet``;
- a folder ``<table>/`` (or ``<table>.parquet/``, as Spark names them) of partitioned files,
  all csv or all parquet, nested folders allowed (``part=3/...``). Files are read in sorted path
  order; names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) are ignored. Folder names
  are not turned into columns: a partition key that matters must be a column in the files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

FORMATS = ("csv", "parquet")
# Rows per batch when a table is read piece by piece (parquet row groups are split to fit).
BATCH_ROWS = 1_000_000


class SourceProblem(Exception):
    """A table that cannot be located unambiguously; `table` is None for the export itself."""

    def __init__(self, table: str | None, message: str) -> None:
        super().__init__(message)
        self.table = table
        self.message = message


@dataclass(frozen=True)
class TableSource:
    """The files of one table on one filesystem, all of one format."""

    table: str
    fmt: str
    files: tuple[str, ...]  # paths on `fs`
    fs: Any  # fsspec.AbstractFileSystem

    @property
    def name(self) -> str:
        """How issues name the source: the file name, or the folder for partitioned tables."""
        if len(self.files) == 1:
            return PurePosixPath(self.files[0]).name
        return f"{self.table}/ ({len(self.files)} {self.fmt} files)"

    def file_name(self, path: str) -> str:
        return PurePosixPath(path).name


def export_filesystem(location: str | Path) -> tuple[Any, str]:
    """The fsspec filesystem of `location` and the root path on it."""
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(str(location))
    except (ImportError, ValueError) as exc:
        # e.g. s3:// without s3fs installed: fsspec names the package to install.
        raise SourceProblem(None, f"cannot open {location}: {exc}") from exc
    return fs, str(root).rstrip("/") or "/"


def _data_files(fs: Any, folder: str) -> list[str]:
    files = []
    for path in fs.find(folder):
        parts = PurePosixPath(path).relative_to(PurePosixPath(folder)).parts
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        files.append(path)
    return sorted(files)


def _folder_source(fs: Any, table: str, folder: str) -> TableSource:
    files = _data_files(fs, folder)
    kinds = {PurePosixPath(f).suffix.lstrip(".") for f in files}
    if not files:
        raise SourceProblem(table, f"folder {table}/ has no data files")
    if len(kinds) > 1 or not kinds <= set(FORMATS):
        found = ", ".join(sorted(kinds)) or "none"
        raise SourceProblem(
            table, f"folder {table}/ must hold only .csv or only .parquet files (found {found})"
        )
    return TableSource(table, kinds.pop(), tuple(files), fs)


def locate_tables(
    location: str | Path, tables: tuple[str, ...]
) -> tuple[dict[str, TableSource], list[SourceProblem]]:
    """Each table's source in the export at `location`, and the problems of tables that have
    none or several; SourceProblem when the location itself is missing or not a folder."""
    fs, root = export_filesystem(location)
    if not fs.exists(root):
        raise SourceProblem(None, "folder does not exist")
    if not fs.isdir(root):
        raise SourceProblem(None, "is not a folder")
    sources: dict[str, TableSource] = {}
    problems: list[SourceProblem] = []
    for table in tables:
        folders = [f"{root}/{table}", f"{root}/{table}.parquet"]
        files = [f"{root}/{table}.{fmt}" for fmt in FORMATS]
        found = [f for f in folders if fs.isdir(f)] + [f for f in files if fs.isfile(f)]
        if len(found) != 1:
            names = " and ".join(
                PurePosixPath(f).name + ("/" if fs.isdir(f) else "") for f in found
            )
            message = (
                f"no {table}.csv or {table}.parquet (nor a {table}/ folder of files) in the export"
                if not found
                else f"{table} is there more than once ({names}): keep only one"
            )
            problems.append(SourceProblem(table, message))
            continue
        try:
            if fs.isdir(found[0]):
                sources[table] = _folder_source(fs, table, found[0])
            else:
                sources[table] = TableSource(table, found[0].rsplit(".", 1)[-1], (found[0],), fs)
        except SourceProblem as problem:
            problems.append(problem)
    return sources, problems


def read_source(
    source: TableSource, columns: list[str] | None = None, dictionary: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The whole table: csv cells as strings (only empty cells missing), parquet as stored.

    Columns named in `dictionary` come back dictionary-encoded (a pandas Categorical of the
    distinct values, sorted): a few dozen activity types repeated over millions of rows take
    one small integer code per row instead of one string per row. Each file is encoded as it
    is read, so no file's strings outlive its own read.
    """
    frames = [read_file(source, path, columns, dictionary) for path in source.files]
    if len(frames) == 1:
        return frames[0]
    for name in dictionary:
        present = [f[name] for f in frames if name in f.columns]
        if not present:
            continue
        values = sorted(set().union(*(set(c.cat.categories) for c in present)))
        union = pd.CategoricalDtype(values)
        for frame in frames:
            if name in frame.columns:
                frame[name] = frame[name].cat.set_categories(values).astype(union)
    return pd.concat(frames, ignore_index=True)


def read_file(
    source: TableSource,
    path: str,
    columns: list[str] | None = None,
    dictionary: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One file of a table (see `read_source`)."""
    if source.fmt == "parquet":
        import pyarrow.parquet as pq

        with source.fs.open(path, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            names = set(parquet.schema_arrow.names)
            encoded = [n for n in dictionary if n in names]
            table = pq.read_table(
                handle, columns=columns, read_dictionary=encoded or None, use_pandas_metadata=True
            )
            frame = table.to_pandas()
            del table
    else:
        frame = _read_csv(source, path, columns)
    return _encoded(frame, dictionary)


def _sorted_categories(values: pd.Series) -> pd.Series:
    """`values` as a Categorical with sorted text categories (missing stays missing)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    categories = values.cat.categories
    if categories.dtype != object and not pd.api.types.is_string_dtype(categories):
        values = values.cat.rename_categories([str(c) for c in categories])
    return values.cat.reorder_categories(sorted(values.cat.categories))


def _read_csv(source: TableSource, path: str, columns: list[str] | None) -> pd.DataFrame:
    """One csv file, every cell a string."""
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "usecols": columns}
    try:
        with source.fs.open(path, "rb") as handle:
            return pd.read_csv(handle, engine="pyarrow", **options)  # type: ignore[call-overload]
    except Exception:
        # The C engine reads what pyarrow refuses (e.g. line breaks inside quoted cells) and
        # names the line when the file is malformed.
        with source.fs.open(path, "rb") as handle:
            frame = pd.read_csv(handle, encoding="utf-8-sig", **options)  # type: ignore[call-overload]
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns the first column into the index when rows are longer than the header.
        raise ValueError("rows have more values than the header has column names")
    return frame


def source_columns(source: TableSource) -> list[str]:
    """The column names of a table, from its first file's schema or header (no rows read)."""
    path = source.files[0]
    if source.fmt == "parquet":
        import pyarrow.parquet as pq

        with source.fs.open(path, "rb") as handle:
            return list(pq.ParquetFile(handle).schema_arrow.names)
    with source.fs.open(path, "rb") as handle:
        header = pd.read_csv(handle, nrows=0, encoding="utf-8-sig")
    return [str(c) for c in header.columns]


def iter_batches(
    source: TableSource,
    columns: list[str] | None = None,
    dictionary: tuple[str, ...] = (),
    rows: int = BATCH_ROWS,
) -> Iterator[pd.DataFrame]:
    """The table in pieces of about `rows` rows (small files are joined, big ones cut), read as
    `read_file` reads it (csv cells as strings, only empty cells missing; parquet as stored;
    `dictionary` columns encoded), one piece in memory at a time."""
    if source.fmt == "parquet":
        pieces: Iterator[Any] = _parquet_pieces(source, columns, dictionary, rows)
    else:
        pieces = _csv_pieces(source, columns, rows)
    pending: list[Any] = []
    count = 0
    for piece in pieces:
        pending.append(piece)
        count += len(piece)
        if count >= rows:
            yield _joined(pending, dictionary)
            pending, count = [], 0
    if pending:
        yield _joined(pending, dictionary)


def _parquet_pieces(
    source: TableSource, columns: list[str] | None, dictionary: tuple[str, ...], rows: int
) -> Iterator[Any]:
    import pyarrow.parquet as pq

    for path in source.files:
        with source.fs.open(path, "rb") as handle:
            footer = pq.ParquetFile(handle)
            encoded = [n for n in dictionary if n in set(footer.schema_arrow.names)]
            # The footer read once: which columns to read as dictionaries needs its names.
            parquet = pq.ParquetFile(
                handle, metadata=footer.metadata, read_dictionary=encoded or None
            )
            yield from parquet.iter_batches(batch_size=rows, columns=columns)


def _csv_pieces(source: TableSource, columns: list[str] | None, rows: int) -> Iterator[Any]:
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "usecols": columns}
    for path in source.files:
        with source.fs.open(path, "rb") as handle:
            # The C engine: pyarrow's reads no chunks (and refuses line breaks in cells).
            reader = pd.read_csv(handle, encoding="utf-8-sig", chunksize=rows, **options)  # type: ignore[call-overload]
            for chunk in reader:
                if not isinstance(chunk.index, pd.RangeIndex):
                    raise ValueError("rows have more values than the header has column names")
                yield chunk


def _joined(pieces: list[Any], dictionary: tuple[str, ...]) -> pd.DataFrame:
    """One frame of csv chunks (DataFrames) or parquet record batches."""
    if isinstance(pieces[0], pd.DataFrame):
        frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
        return _encoded(frame.reset_index(drop=True), dictionary)
    import pyarrow as pa

    # Files may differ in optional columns (missing ones become null); arrow joins the files'
    # dictionaries into one Categorical per column.
    tables = [pa.Table.from_batches([piece]) for piece in pieces]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    return _encoded(table.to_pandas(), dictionary)


def _encoded(frame: pd.DataFrame, dictionary: tuple[str, ...]) -> pd.DataFrame:
    for name in dictionary:
        if name in frame.columns:
            frame[name] = _sorted_categories(frame[name])
    return frame


def fingerprint_export(location: str | Path) -> str:
    """A digest of every table file's name and content: which data exactly a run saw."""
    from features.contract import TABLES

    sources, _ = locate_tables(location, TABLES)
    digest = hashlib.sha256()
    for table in sorted(sources):
        source = sources[table]
        for path in source.files:
            digest.update(f"{table}/{source.file_name(path)}".encode())
            with source.fs.open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()[:16]


def location_text(location: str | Path) -> str:
    """A location as runs record it: an absolute local path, or the URL as given."""
    text = str(location)
    if "://" in text:
        return text
    return str(Path(text).resolve())
