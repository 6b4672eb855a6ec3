"""Debian's Chromium as the tests run it (no sandbox in containers, no background traffic)."""

from __future__ import annotations

import shutil

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str | None:
    """The chromium executable (.ci/run installs Debian's package where it is missing)."""
    return shutil.which("chromium")
