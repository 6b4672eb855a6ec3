"""Every setting leadscore reads from the environment, typed, in one object.

docs/configuration.md lists them in one table. Nothing is read when this module is imported:
`load_settings()` reads the environment (or a given mapping) when called, and a value that
cannot be used raises `SettingsError`, whose one-line message names the variable. An empty
variable counts as unset. Defaults that belong to a package's own idea (the registered model's
name, the MLflow store in the working directory) are filled in there, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(ValueError):
    """A variable that cannot be used; the message names it."""


class Settings(BaseSettings):
    """LEADSCORE_* and MLflow variables; the field's alias is the variable's name."""

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True
    )

    # MLflow: where runs and the registry live (unset: ./mlflow.db and ./mlartifacts).
    tracking_uri: str | None = Field(None, alias="MLFLOW_TRACKING_URI")
    # Registry and training.
    model_name: str | None = Field(None, alias="LEADSCORE_MODEL_NAME")
    table_model_name: str | None = Field(None, alias="LEADSCORE_TABLE_MODEL_NAME")
    model_uri: str | None = Field(None, alias="LEADSCORE_MODEL_URI")
    experiment: str | None = Field(None, alias="LEADSCORE_EXPERIMENT")
    # Marketing ops: who records a tier policy, where served scores are logged.
    user: str | None = Field(None, alias="LEADSCORE_USER")
    prediction_log: str | None = Field(None, alias="LEADSCORE_PREDICTION_LOG")
    # The service.
    model_dir: Path | None = Field(None, alias="LEADSCORE_MODEL_DIR")
    api_token: SecretStr | None = Field(None, alias="LEADSCORE_API_TOKEN")
    host: str = Field("127.0.0.1", alias="LEADSCORE_HOST")
    port: int = Field(3000, ge=1, le=65_535, alias="LEADSCORE_PORT")
    workers: int = Field(1, ge=1, le=64, alias="LEADSCORE_WORKERS")
    # A thousand leads with a few dozen activities each take about 3 MB; a bigger body is a
    # batch job's (split it) or a probe's. Each request in flight holds its body and leads.
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1_024, le=1 << 31, alias="LEADSCORE_MAX_BODY_BYTES"
    )
    max_in_flight: int = Field(64, ge=1, le=100_000, alias="LEADSCORE_MAX_IN_FLIGHT")
    log_timeout_seconds: float = Field(2.0, ge=0.05, le=600, alias="LEADSCORE_LOG_TIMEOUT_SECONDS")
    log_retry_seconds: float = Field(5.0, ge=0.1, le=3_600, alias="LEADSCORE_LOG_RETRY_SECONDS")
    registry_timeout_seconds: float = Field(
        10.0, ge=0.5, le=3_600, alias="LEADSCORE_REGISTRY_TIMEOUT_SECONDS"
    )
    metrics: bool = Field(False, alias="LEADSCORE_METRICS")
    stats_seconds: int = Field(60, ge=1, le=86_400, alias="LEADSCORE_STATS_SECONDS")
    policy_refresh_seconds: int = Field(
        30, ge=0, le=86_400, alias="LEADSCORE_POLICY_REFRESH_SECONDS"
    )
    log_level: LogLevel = Field("INFO", alias="LEADSCORE_LOG_LEVEL")
    # The marketing-ops web app (`leadscore ui`).
    ui_data: Path | None = Field(None, alias="LEADSCORE_UI_DATA")
    ui_secure_cookies: bool = Field(False, alias="LEADSCORE_UI_SECURE_COOKIES")
    # Benchmarks: the public datasets folder (default ../shared/datasets from the repository).
    datasets: Path | None = Field(None, alias="LEADSCORE_DATASETS")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "prediction_log", "model_uri", "model_name", "table_model_name", "host", mode="before"
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @property
    def token(self) -> str | None:
        """The API token as text (kept a SecretStr so it never shows in a repr or log)."""
        return self.api_token.get_secret_value() if self.api_token else None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from the process environment, or from `env` (tests, a child's environment)."""
    try:
        if env is None:
            return Settings()  # type: ignore[call-arg]  # every field has a default; mypy reads aliases as required
        return Settings.model_validate({key: value for key, value in env.items() if value != ""})
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"][:1].lower() + error["msg"][1:]
        # A secret's value is never repeated, not even in an error.
        shown = "" if "TOKEN" in name else f"={error.get('input')!r}"
        problems.append(f"{name}{shown}: {message}")
    return "bad setting: " + "; ".join(problems)
