"""Service settings, read from the environment once at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.registry import default_model_uri, default_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
# The API contract: these bound the work a single request can ask for.
MAX_LEADS_PER_REQUEST = 1_000
MAX_ACTIVITIES_PER_LEAD = 5_000
# A thousand leads with a few dozen activities each take about 3 MB; a bigger body is a batch
# job's (split it) or a probe's. Each request in flight holds its body and parsed leads.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_IN_FLIGHT = 64

# Set by `leadscore serve` (and a bento): a folder already holding the model and its card, so
# that workers neither query MLflow nor resolve the alias again (they all serve one version).
MODEL_DIR_ENV = "LEADSCORE_MODEL_DIR"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class ServingConfig:
    """Where the model comes from, who may call, and how much one request may carry."""

    model_uri: str
    tracking_uri: str
    model_dir: Path | None
    api_token: str | None
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
        env = os.environ if env is None else env
        model_dir = env.get(MODEL_DIR_ENV)
        return cls(
            model_uri=default_model_uri(env),
            tracking_uri=env.get("MLFLOW_TRACKING_URI") or default_store(workdir)[0],
            model_dir=Path(model_dir) if model_dir else None,
            api_token=env.get("LEADSCORE_API_TOKEN") or None,
            host=env.get("LEADSCORE_HOST") or DEFAULT_HOST,
            port=_integer(env, "LEADSCORE_PORT", DEFAULT_PORT, 1, 65_535),
            workers=_integer(env, "LEADSCORE_WORKERS", 1, 1, 64),
            max_body_bytes=_integer(
                env, "LEADSCORE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1_024, 1 << 31
            ),
            metrics=env.get("LEADSCORE_METRICS", "0").lower() in ("1", "true", "yes"),
            stats_seconds=float(_integer(env, "LEADSCORE_STATS_SECONDS", 60, 1, 86_400)),
            prediction_log=env.get("LEADSCORE_PREDICTION_LOG") or None,
            policy_refresh_seconds=float(
                _integer(env, "LEADSCORE_POLICY_REFRESH_SECONDS", 30, 0, 86_400)
            ),
            max_in_flight=_integer(
                env, "LEADSCORE_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT, 1, 100_000
            ),
            log_timeout_seconds=_number(env, "LEADSCORE_LOG_TIMEOUT_SECONDS", 2.0, 0.05, 600),
            log_retry_seconds=_number(env, "LEADSCORE_LOG_RETRY_SECONDS", 5.0, 0.1, 3_600),
            registry_timeout_seconds=_number(
                env, "LEADSCORE_REGISTRY_TIMEOUT_SECONDS", 10.0, 0.5, 3_600
            ),
        )


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return int(_setting(env, name, default, low, high, int, "an integer"))


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _setting(env, name, default, low, high, float, "a number")


def _setting(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    parse: type[int] | type[float],
    what: str,
) -> float:
    """A number from the environment in [low, high]; ConfigError naming the variable."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


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
