"""The registry's names: the configured model name reaches the default URI; URIs parse both ways."""

from __future__ import annotations

import pytest

from models.registry import (
    CHAMPION,
    DEFAULT_MODEL_NAME,
    alias_uri,
    default_model_uri,
    default_store,
    model_name,
    parse_registry_uri,
    version_uri,
)
from models.settings import load_settings


def test_model_name_comes_from_the_environment_else_the_default() -> None:
    assert model_name(load_settings({})) == DEFAULT_MODEL_NAME
    assert model_name(load_settings({"LEADSCORE_MODEL_NAME": "churn"})) == "churn"
    assert model_name(load_settings({"LEADSCORE_MODEL_NAME": ""})) == DEFAULT_MODEL_NAME


def test_default_uri_is_the_champion_of_the_name_unless_a_uri_is_given() -> None:
    assert (
        default_model_uri(load_settings({"LEADSCORE_MODEL_NAME": "churn"}))
        == "models:/churn@champion"
    )
    given = {"LEADSCORE_MODEL_NAME": "churn", "LEADSCORE_MODEL_URI": "models:/other/3"}
    assert default_model_uri(load_settings(given)) == "models:/other/3"


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        (alias_uri("m", CHAMPION), ("m", CHAMPION, None)),
        (version_uri("m", "7"), ("m", None, "7")),
        ("models:/m/", ("m", None, None)),
    ],
)
def test_registry_uris_parse_back(uri: str, parsed: tuple[str, str | None, str | None]) -> None:
    assert parse_registry_uri(uri) == parsed


def test_default_store_is_a_sqlite_file_and_artifact_folder_in_the_working_directory(
    tmp_path,
) -> None:
    tracking_uri, artifacts = default_store(tmp_path)
    assert tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert artifacts == (tmp_path.resolve() / "mlartifacts").as_uri()
