"""Reading and writing CRM exports: a folder with leads, activities and opportunities tables."""

from __future__ import annotations

import logging
from pathlib import Path

from features.contract import TABLES, Export

log = logging.getLogger(__name__)


def write_export(export: Export, out: Path, fmt: str = "csv") -> list[Path]:
    """Write the three tables of `export` into folder `out` as csv or parquet."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or parquet")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        frame = getattr(export, table)
        path = out / f"{table}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    log.info("wrote export to %s", out)
    return written
