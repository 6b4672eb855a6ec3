"""Getting the model to serve: from the MLflow registry, a prepared folder, or a bento.

A prepared folder holds the MLflow model (`mlflow_model/`) and `card.json`, what `GET /model`
says about it (registry name, version, alias, training window, holdout metrics, features,
tier policy), read from MLflow once when the folder is made. `leadscore serve` prepares one
folder for all workers; a bento carries one as a BentoML model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.digests import (
    DIGESTS_TAG,
    ArtifactError,
    read_manifest,
    recorded_digests,
    verify_files,
)
from models.registry import (
    BENTO_MODEL_NAME,
    POLICY_ARTIFACT,
    SCORER_ARTIFACT,
    ModelCard,
    describe_version,
    version_uri,
)
from serving.deadline import call_within
from serving.redaction import redact

if TYPE_CHECKING:  # the model's modules load in workers (and the check's child) only
    from models.scorer import LeadScorer
    from models.table_scorer import TableScorer

# models.artifacts' name of a single-table scorer's format and of two of its files (a test
# keeps them equal; models.artifacts loads pandas).
TABLE_FORMAT = "leadscore-table-scorer"
FEATURIZER_FILE = "featurizer.json"
REFERENCE_FILE = "reference.json"

log = logging.getLogger(__name__)

MLFLOW_MODEL_DIR = "mlflow_model"
CARD_FILE = "card.json"
DIGESTS_FILE = "digests.json"
# How long start-up waits for the registry to answer (LEADSCORE_REGISTRY_TIMEOUT_SECONDS).
REGISTRY_TIMEOUT_S = 10.0


class ModelLoadError(RuntimeError):
    """The model cannot be served; the message says which model and why (credentials in any
    URI it quotes are hidden)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


@dataclass(frozen=True)
class ServedModel:
    scorer: LeadScorer | TableScorer
    card: ModelCard


def check_tracking_store(tracking_uri: str) -> None:
    """Refuse a SQLite tracking store that is not there: MLflow would create an empty one (a
    mistyped path served nothing, silently)."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ModelLoadError(
                f"no MLflow store at {path} (MLFLOW_TRACKING_URI): serving never creates one. "
                "Fix the path, or train a model first (`leadscore train`)."
            )


def _fail_fast_over_http() -> None:
    # MLflow retries a REST call seven times with backoff (over 200 s) by default; start-up
    # should say at once that the registry is not there. An operator's own settings win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def prepare_model_dir(
    uri: str, tracking_uri: str, folder: Path, timeout_s: float = REGISTRY_TIMEOUT_S
) -> ModelCard:
    """Resolve `uri` once, download its MLflow model and write its card into `folder`.

    The registry must answer within `timeout_s`; the download may take ten times that.
    """
    check_tracking_store(tracking_uri)
    _fail_fast_over_http()
    try:
        card, tags = call_within(timeout_s, lambda: describe_version(uri, tracking_uri))
    except TimeoutError:
        raise ModelLoadError(
            f"the MLflow registry at {tracking_uri} did not answer within {timeout_s:g} s "
            "(MLFLOW_TRACKING_URI; LEADSCORE_REGISTRY_TIMEOUT_SECONDS sets the wait)"
        ) from None
    except Exception as exc:  # MLflow raises many kinds; the operator needs the message
        raise ModelLoadError(
            f"cannot get model {uri} from MLflow at {tracking_uri}: {_first_line(exc)}. "
            "Train one (`leadscore train`), or set LEADSCORE_MODEL_URI / MLFLOW_TRACKING_URI."
        ) from None
    try:
        digests = recorded_digests(tags, f"model {uri}")
    except ArtifactError as exc:
        raise ModelLoadError(str(exc)) from None
    try:
        # Download the exact version the alias pointed at, not whatever it points at now.
        pinned = version_uri(card.name, card.version) if uri.startswith("models:/") else uri
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / MLFLOW_MODEL_DIR
        if target.exists():
            shutil.rmtree(target)
        downloaded = call_within(10 * timeout_s, lambda: _download(pinned, folder / "download"))
        downloaded.rename(target)
        shutil.rmtree(folder / "download", ignore_errors=True)
    except Exception as exc:  # MLflow raises many kinds; the operator needs the message
        raise ModelLoadError(
            f"cannot download model {uri} from MLflow at {tracking_uri}: {_first_line(exc)}"
        ) from None
    what = f"model {card.name} version {card.version}"
    try:
        verify_files(target, digests, what)
    except ArtifactError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ModelLoadError(str(exc)) from None
    (folder / DIGESTS_FILE).write_text(tags[DIGESTS_TAG])
    (folder / CARD_FILE).write_text(json.dumps(asdict(card), indent=2))
    return card


def _download(uri: str, dst: Path) -> Path:
    """A logged model's files (not `models.pyfunc.download_model`: that module imports the
    model's code, which `leadscore serve`'s parent never loads)."""
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))


def _first_line(exc: BaseException) -> str:
    """An exception's message on one line, shortened (MLflow's quote whole responses)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}"


def _load_scorer(model_path: Path) -> LeadScorer | TableScorer:
    """The scorer of an MLflow model folder: `models.pyfunc.load_scorer`'s files, read without
    importing MLflow (seconds of start-up per worker). MLmodel is YAML read safely, the rest
    is data (`models.artifacts`); nothing here runs code from the artifact store."""
    import yaml

    from models.artifacts import load_scorer_files
    from models.tiers import TierPolicy

    spec = yaml.safe_load((model_path / "MLmodel").read_text())
    artifacts = spec["flavors"]["python_function"]["artifacts"]
    policy = json.loads((model_path / artifacts[POLICY_ARTIFACT]["path"]).read_text())
    return load_scorer_files(
        model_path / artifacts[SCORER_ARTIFACT]["path"], TierPolicy.from_dict(policy)
    )


def _table_scorer_files(folder: Path) -> Path | None:
    """The scorer files of a prepared single-table model's folder, None for an export model;
    found by reading data (MLmodel, format.json), without loading the model."""
    import yaml

    model_path = folder / MLFLOW_MODEL_DIR
    spec = yaml.safe_load((model_path / "MLmodel").read_text())
    scorer = model_path / spec["flavors"]["python_function"]["artifacts"][SCORER_ARTIFACT]["path"]
    described = json.loads((scorer / "format.json").read_text())
    return scorer if described.get("format") == TABLE_FORMAT else None


def table_example(folder: Path) -> dict[str, Any] | None:
    """A prepared single-table model's logged input example (invented values of its columns),
    or None for an export model; read as data, without loading the model."""
    example = folder / MLFLOW_MODEL_DIR / "input_example.json"
    if _table_scorer_files(folder) is None or not example.is_file():
        return None
    rows = json.loads(example.read_text())
    return dict(zip(rows["columns"], rows["data"][0], strict=True))


@dataclass(frozen=True)
class TableColumns:
    """What a single-table model reads: its input columns, their kinds, the id column."""

    names: list[str]
    kinds: dict[str, str]
    id_column: str | None


def table_columns(folder: Path) -> TableColumns | None:
    """A prepared single-table model's input columns (None for an export model), read from
    its files as data: no pandas, no model loaded (BentoML's supervisor calls this)."""
    scorer = _table_scorer_files(folder)
    if scorer is None:
        return None
    columns = json.loads((scorer / FEATURIZER_FILE).read_text())["columns"]
    reference = json.loads((scorer / REFERENCE_FILE).read_text())
    return TableColumns(
        names=[str(c["name"]) for c in columns],
        kinds={str(c["name"]): str(c["kind"]) for c in columns},
        id_column=reference["id_column"],
    )


def load_model_dir(folder: Path) -> ServedModel:
    """The scorer and card of a prepared folder, its files checked against their digests
    first (what was verified when the folder was made may have been changed since)."""
    try:
        card = ModelCard.from_dict(json.loads((folder / CARD_FILE).read_text()))
        digests = read_manifest((folder / DIGESTS_FILE).read_text())
        verify_files(
            folder / MLFLOW_MODEL_DIR, digests, f"model {card.name} version {card.version}"
        )
        scorer = _load_scorer(folder / MLFLOW_MODEL_DIR)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the model in {folder}: {exc}") from None
    return ServedModel(scorer, card)


def check_model_dir(folder: Path) -> None:
    """Raise ModelLoadError unless the prepared folder loads, trying in a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "serving.model_source", str(folder)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ModelLoadError(lines[-1] if lines else f"cannot load the model in {folder}")


def load_from_registry(uri: str, tracking_uri: str, scratch: Path) -> ServedModel:
    """Resolve, download and load in one go (a worker started without a prepared folder)."""
    prepare_model_dir(uri, tracking_uri, scratch)
    return load_model_dir(scratch)


def save_bento_model(uri: str, tracking_uri: str, name: str = BENTO_MODEL_NAME) -> str:
    """Put the model behind `uri` into the BentoML model store (for `bentoml build`); its tag."""
    import bentoml

    with tempfile.TemporaryDirectory() as tmp:
        card = prepare_model_dir(uri, tracking_uri, Path(tmp))
        load_model_dir(Path(tmp))  # refuse to store something that will not load
        with bentoml.models.create(
            name,
            labels={"mlflow_name": card.name, "mlflow_version": card.version},
            metadata={"mlflow_uri": uri, "run_id": card.run_id or ""},
        ) as stored:
            shutil.copytree(tmp, stored.path, dirs_exist_ok=True)
    return str(stored.tag)


if __name__ == "__main__":  # `check_model_dir`'s child: load, then exit (1 with the reason)
    try:
        load_model_dir(Path(sys.argv[1]))
    except ModelLoadError as failure:
        print(failure, file=sys.stderr)
        raise SystemExit(1) from None
