"""A scorer stored as data, never as code: the files of a logged model, and their digests.

A pickle runs whatever code it names when it is loaded, so a model artifact that is a pickle
gives anyone who can write the artifact store (or move an alias to a version of their own) a
shell on every host that loads it. A `LeadScorer` is stored as files that only hold numbers
and names: LightGBM's text model, and JSON for the featurizer's vocabularies and levels, the
linear model's coefficients, the calibrator, the reference distributions and the tier policy.
`format.json` names the format and its version; a folder without it (a pickle of an older
leadscore) or of another version is refused with a message saying to retrain.

Every file of a logged model is also hashed when it is registered; whoever serves it checks
the files against those digests before reading any (`models.digests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from features.build import LeadFeaturizer
from features.tabular import TabularFeaturizer
from models.digests import ArtifactError
from models.linear import floats_from_json, floats_to_json
from models.model_files import read_model_files, write_model_files
from models.scorer import LeadScorer, ReferenceScores
from models.table_scorer import TableScorer
from models.tiers import TierPolicy

FORMAT = "leadscore-scorer"
FORMAT_VERSION = 2
# A single-table model's scorer (`models.table_scorer`): the table featurizer's state instead.
TABLE_FORMAT = "leadscore-table-scorer"
TABLE_FORMAT_VERSION = 1
FORMAT_FILE = "format.json"
FEATURIZER_FILE = "featurizer.json"
REFERENCE_FILE = "reference.json"
RETRAIN = "retrain it with this leadscore (`leadscore train`) and serve the new version"


__all__ = ["ArtifactError", "load_scorer_files", "save_scorer_files"]


def save_scorer_files(scorer: LeadScorer | TableScorer, folder: Path) -> None:
    """Write `scorer` (all but its tier policy, which is stored beside it) into `folder`."""
    if isinstance(scorer, TableScorer):
        _save_table_scorer(scorer, folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    files = write_model_files(scorer.model, folder)
    (folder / FEATURIZER_FILE).write_text(
        json.dumps(scorer.featurizer.fitted_state(), allow_nan=False)
    )
    reference = scorer.reference
    (folder / REFERENCE_FILE).write_text(
        json.dumps(
            {
                "probability": floats_to_json(reference.probability),
                "fit": floats_to_json(reference.fit),
                "engagement": floats_to_json(reference.engagement),
                "typical_reasons": {k: float(v) for k, v in reference.typical_reasons.items()},
                "top_reasons": scorer.top_reasons,
            }
        )
    )
    _write_format(folder, FORMAT, FORMAT_VERSION, files.values())


def _save_table_scorer(scorer: TableScorer, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = write_model_files(scorer.model, folder)
    (folder / FEATURIZER_FILE).write_text(
        json.dumps(scorer.featurizer.fitted_state(), allow_nan=False)
    )
    (folder / REFERENCE_FILE).write_text(
        json.dumps(
            {
                "probability": floats_to_json(scorer.reference),
                "id_column": scorer.id_column,
                "top_reasons": scorer.top_reasons,
            }
        )
    )
    _write_format(folder, TABLE_FORMAT, TABLE_FORMAT_VERSION, files.values())


def _write_format(folder: Path, name: str, version: int, model_files: Iterable[str]) -> None:
    """The format file last: it names the format and version a loader checks and every file
    the folder must hold (the model's own files, the featurizer and the reference)."""
    (folder / FORMAT_FILE).write_text(
        json.dumps(
            {
                "format": name,
                "version": version,
                "files": sorted([*model_files, FEATURIZER_FILE, REFERENCE_FILE]),
            },
            indent=2,
        )
    )


def _load_table_scorer(folder: Path, policy: TierPolicy) -> TableScorer:
    featurizer = TabularFeaturizer.from_fitted_state(
        json.loads((folder / FEATURIZER_FILE).read_text())
    )
    numbers = json.loads((folder / REFERENCE_FILE).read_text())
    return TableScorer(
        featurizer,
        read_model_files(folder),
        policy,
        floats_from_json(numbers["probability"]),
        id_column=numbers["id_column"],
        top_reasons=int(numbers["top_reasons"]),
    )


def load_scorer_files(folder: Path, policy: TierPolicy) -> LeadScorer | TableScorer:
    """The scorer stored in `folder` by `save_scorer_files`, serving `policy`."""
    described = folder / FORMAT_FILE
    if not described.is_file():
        older = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise ArtifactError(
            f"{folder} holds no {FORMAT_FILE} ({', '.join(older) or 'nothing'}): a model saved "
            f"by an older leadscore (a pickle, which is never loaded); {RETRAIN}"
        )
    info = json.loads(described.read_text())
    if info.get("format") == TABLE_FORMAT and info.get("version") == TABLE_FORMAT_VERSION:
        return _load_table_scorer(folder, policy)
    if info.get("format") != FORMAT or info.get("version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{described} says format {info.get('format')!r} version {info.get('version')!r}; "
            f"this leadscore reads {FORMAT!r} version {FORMAT_VERSION}: {RETRAIN}"
        )
    featurizer = LeadFeaturizer.from_fitted_state(
        json.loads((folder / FEATURIZER_FILE).read_text())
    )
    model = read_model_files(folder)
    numbers = json.loads((folder / REFERENCE_FILE).read_text())
    reference = ReferenceScores(
        probability=floats_from_json(numbers["probability"]),
        fit=floats_from_json(numbers["fit"]),
        engagement=floats_from_json(numbers["engagement"]),
        typical_reasons={k: float(v) for k, v in numbers.get("typical_reasons", {}).items()},
    )
    return LeadScorer(featurizer, model, policy, reference, int(numbers["top_reasons"]))
