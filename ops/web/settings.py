"""What `leadscore ui` serves and to whom, read once at start-up."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.registry import TrackingConfig
from models.settings import load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
TOKEN_ENV = "LEADSCORE_API_TOKEN"


class UiConfigError(ValueError):
    """A setting the app cannot start with; the message says what to change."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UiSettings:
    """Where the registry, the prediction log and the later export are; who may sign in."""

    tracking: TrackingConfig
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_token: str | None = None
    predictions: str | None = None  # prediction log: URL, SQLite file or a dump
    later_export: Path | None = None  # a CRM export taken after the scores were logged
    secure_cookies: bool = False  # set when served behind HTTPS

    def __post_init__(self) -> None:
        if self.api_token is None and not is_loopback(self.host):
            raise UiConfigError(
                f"without {TOKEN_ENV} the app serves this machine only: use --host 127.0.0.1, "
                f"or set {TOKEN_ENV} so that people sign in before they read or change anything"
            )
        if self.api_token is not None and len(self.api_token) < 8:
            raise UiConfigError(f"{TOKEN_ENV} is too short to protect anything (8+ characters)")

    @property
    def signs_in(self) -> bool:
        return self.api_token is not None

    @classmethod
    def from_env(
        cls,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        predictions: str | None = None,
        later_export: Path | None = None,
        env: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> UiSettings:
        settings = load_settings(env)
        return cls(
            tracking=TrackingConfig.from_env(workdir, settings),
            host=host,
            port=port,
            api_token=settings.token,
            predictions=predictions or settings.prediction_log,
            later_export=later_export or settings.ui_data,
            secure_cookies=settings.ui_secure_cookies,
        )
