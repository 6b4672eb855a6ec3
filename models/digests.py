"""SHA-256 digests of a logged model's files: recorded at registration, checked before use.

`leadscore train` hashes every file of the model it registers and keeps the digests in the
registry (model-version tag `DIGESTS_TAG`), apart from the artifact store. Whoever serves a
version checks the downloaded files against them before reading any: a changed, missing or
unexpected file stops start-up, naming it. Whoever can write the artifact store but not the
registry can then change no served file unnoticed (docs/security.md). Light on purpose (no
model code imported): `leadscore serve`'s parent checks files without loading the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.registry import DIGESTS_TAG

__all__ = [
    "DIGESTS_TAG",
    "ArtifactError",
    "file_digests",
    "manifest",
    "read_manifest",
    "recorded_digests",
    "verify_files",
]

DIGESTS_VERSION = 1


class ArtifactError(ValueError):
    """A stored model that will not be loaded; the message says which file and why."""


def file_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root`, by path relative to it (POSIX separators)."""
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digests[path.relative_to(root).as_posix()] = digest.hexdigest()
    return digests


def verify_files(root: Path, expected: Mapping[str, str], what: str) -> None:
    """Raise ArtifactError naming the first file of `root` that differs from `expected`
    (changed, missing, or not expected at all)."""
    found = file_digests(root)
    for name in sorted(set(found) | set(expected)):
        if name not in expected:
            raise ArtifactError(f"{what}: unexpected file {name} (not recorded at registration)")
        if name not in found:
            raise ArtifactError(f"{what}: file {name} recorded at registration is missing")
        if found[name] != expected[name]:
            raise ArtifactError(
                f"{what}: file {name} changed since registration (SHA-256 {found[name][:16]}..."
                f", recorded {expected[name][:16]}...)"
            )


def manifest(digests: Mapping[str, str]) -> str:
    """The digests as the registry keeps them (a model-version tag, JSON)."""
    return json.dumps({"version": DIGESTS_VERSION, "sha256": dict(digests)}, sort_keys=True)


def read_manifest(text: str) -> dict[str, str]:
    """The digests of `manifest`'s text; ArtifactError when it is not one."""
    try:
        data: Any = json.loads(text)
        return {str(k): str(v) for k, v in data["sha256"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ArtifactError(f"the recorded digests ({DIGESTS_TAG}) are not readable") from None


def recorded_digests(tags: Mapping[str, str], what: str) -> dict[str, str]:
    """The digests a registry version's `tags` recorded at registration; ArtifactError when
    there are none (a version registered by an older leadscore, or by hand) or unreadable."""
    recorded = tags.get(DIGESTS_TAG)
    if recorded is None:
        raise ArtifactError(
            f"{what} has no file digests recorded in the registry ({DIGESTS_TAG}): only a "
            "version whose files were hashed when it was registered is read; retrain it with "
            "this leadscore (`leadscore train`)"
        )
    return read_manifest(recorded)
