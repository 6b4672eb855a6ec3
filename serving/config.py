"""The service's settings, from the one settings object (models/settings.py) at start-up."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from models.registry import default_model_uri, default_store
from models.settings import Settings, SettingsError, load_settings

# The API contract: these bound the work a single request can ask for.
MAX_LEADS_PER_REQUEST = 1_000
MAX_ACTIVITIES_PER_LEAD = 5_000
# A thousand leads with a few dozen activities each take about 3 MB; a bigger body is a batch
# job's (split it) or a probe's. Each request in flight holds its body and parsed leads.
DEFAULT_MAX_BODY_BYTES: int = Settings.model_fields["max_body_bytes"].default
DEFAULT_MAX_IN_FLIGHT: int = Settings.model_fields["max_in_flight"].default

# Set by `leadscore serve` (and a bento): a folder already holding the model and its card, so
# that workers neither query MLflow nor resolve the alias again (they all serve one version).
MODEL_DIR_ENV = "LEADSCORE_MODEL_DIR"


# A setting that cannot be used; the message names the variable (one error type for all).
ConfigError = SettingsError


@dataclass(frozen=True)
class ServingConfig:
    """Where the model comes from, who may call, and how much one request may carry."""

    model_uri: str
    tracking_uri: str
    model_dir: Path | None
    api_token: str | None = field(repr=False)  # never in a log line or traceback
    host: str
    port: int
    workers: int
    max_body_bytes: int
    metrics: bool
    stats_seconds: float
    # Where every returned score is logged (a SQLAlchemy URL or a SQLite file); None: not logged.
    prediction_log: str | None = None
    # How often a worker checks the registry for a newly applied tier policy; 0: never.
    policy_refresh_seconds: float = 30.0
    # Requests a worker holds at once; beyond, 503 with Retry-After.
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    # A prediction-log write waits this long for a lock or connection before it fails; after
    # a failure, writes are tried again this many seconds later (503 meanwhile).
    log_timeout_seconds: float = 2.0
    log_retry_seconds: float = 5.0
    # A registry call (tier-policy check, start-up) gives up after this long.
    registry_timeout_seconds: float = 10.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, workdir: Path | None = None
    ) -> ServingConfig:
        """From the process environment (or `env`); a bad value raises `ConfigError`."""
        settings = load_settings(env)
        return cls(
            model_uri=default_model_uri(settings),
            tracking_uri=settings.tracking_uri or default_store(workdir)[0],
            model_dir=settings.model_dir,
            api_token=settings.token,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            max_body_bytes=settings.max_body_bytes,
            metrics=settings.metrics,
            stats_seconds=float(settings.stats_seconds),
            prediction_log=settings.prediction_log,
            policy_refresh_seconds=float(settings.policy_refresh_seconds),
            max_in_flight=settings.max_in_flight,
            log_timeout_seconds=settings.log_timeout_seconds,
            log_retry_seconds=settings.log_retry_seconds,
            registry_timeout_seconds=settings.registry_timeout_seconds,
        )


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine without a token, unless told to (`--insecure`)."""
    if api_token or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve on {host} without LEADSCORE_API_TOKEN: anyone who reaches that "
        "address could score leads and write them into the prediction log. Set "
        "LEADSCORE_API_TOKEN, or pass --insecure if a gateway in front of the service "
        "authenticates callers."
    )
