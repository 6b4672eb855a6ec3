"""The settings object: typed values from the environment, one-line errors naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.settings import Settings, SettingsError, load_settings


def test_values_are_typed_and_empty_means_unset() -> None:
    settings = load_settings(
        {
            "LEADSCORE_PORT": "8080",
            "LEADSCORE_METRICS": "yes",
            "LEADSCORE_HOST": "",
            "LEADSCORE_LOG_LEVEL": "debug",
            "LEADSCORE_MODEL_DIR": "/srv/model",
            "LEADSCORE_PREDICTION_LOG": "  scores.db ",
            "UNRELATED": "x",
        }
    )
    assert settings.port == 8080 and settings.metrics is True
    assert settings.host == "127.0.0.1"  # empty: the default
    assert settings.log_level == "DEBUG"
    assert settings.model_dir == Path("/srv/model")
    assert settings.prediction_log == "scores.db"
    assert load_settings({}) == Settings.model_validate({})


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("LEADSCORE_PORT", "70000", "less than or equal to 65535"),
        ("LEADSCORE_WORKERS", "two", "valid integer"),
        ("LEADSCORE_METRICS", "maybe", "valid boolean"),
        ("LEADSCORE_POLICY_REFRESH_SECONDS", "-1", "greater than or equal to 0"),
        ("LEADSCORE_LOG_LEVEL", "loud", "'DEBUG'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"bad setting: {name}=") and words in message


def test_the_token_is_never_shown() -> None:
    settings = load_settings({"LEADSCORE_API_TOKEN": "s3cret-token"})
    assert settings.token == "s3cret-token"
    assert "s3cret-token" not in repr(settings)


def test_the_process_environment_is_read_when_called_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", "first")
    assert load_settings().model_name == "first"
    monkeypatch.setenv("LEADSCORE_MODEL_NAME", "second")
    assert load_settings().model_name == "second"


def test_the_cli_refuses_a_bad_value_in_one_line_without_a_traceback() -> None:
    env = {"LEADSCORE_PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "validate", "--data", "."],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: bad setting: LEADSCORE_PORT='not-a-port': input should be a valid integer, "
        "unable to parse string as an integer"
    ]
