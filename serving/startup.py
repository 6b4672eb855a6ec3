"""What a worker opens besides the model: the prediction log and the tier-policy watcher.

Both reach other systems at start-up, so both are bounded in time and fail with one line that
names the setting (credentials hidden), never a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from serving.config import ConfigError, ServingConfig
from serving.deadline import call_within
from serving.redaction import redact

if TYPE_CHECKING:
    from ops.policy_store import PolicyWatcher
    from ops.prediction_log import PredictionLog
    from serving.model_source import ServedModel

log = logging.getLogger("leadscore.serving")


def open_prediction_log(config: ServingConfig) -> PredictionLog | None:
    """The prediction log LEADSCORE_PREDICTION_LOG names (None: not set); ConfigError names
    the variable when it cannot be opened."""
    from ops.prediction_log import PredictionLog, describe_failure, sqlite_url

    target = config.prediction_log
    if not target:
        return None
    url = target if "://" in target else sqlite_url(target)
    try:
        return call_within(
            config.registry_timeout_seconds + config.log_timeout_seconds,
            lambda: PredictionLog(url, timeout_s=config.log_timeout_seconds),
        )
    except TimeoutError:
        raise ConfigError(f"LEADSCORE_PREDICTION_LOG: {redact(url)} did not answer") from None
    except Exception as exc:  # SQLAlchemy and drivers raise many kinds
        raise ConfigError(
            f"LEADSCORE_PREDICTION_LOG: cannot open {redact(url)}: {describe_failure(exc)}"
        ) from None


def first_policy_check(served: ServedModel, config: ServingConfig) -> PolicyWatcher | None:
    """The tier-policy watcher of the served version, with the applied policy read once
    (within the registry timeout; when it cannot be read, the packed policy is served and the
    background check tries again)."""
    from ops.policy_store import PolicyCheckFailed
    from serving.policy_refresh import policy_watcher_for

    card = served.card
    # Making the client reaches no server (and importing MLflow may take seconds): no deadline.
    watcher = policy_watcher_for(
        card.name,
        card.version,
        served.scorer.policy,
        config.tracking_uri,
        config.policy_refresh_seconds,
    )
    if watcher is not None:
        try:
            watcher.policy = call_within(config.registry_timeout_seconds, watcher.check)
        except (PolicyCheckFailed, TimeoutError) as exc:
            log.warning("tier policy at start-up: %s; serving the packed policy", redact(str(exc)))
    return watcher


MAX_FAILED_STARTS = 3
GAVE_UP = "gave up"


def failures_file(server_pid: int) -> Path:
    """Where a server's workers count failed starts (BentoML's arbiter, the `bentoml serve`
    process, is every worker's parent)."""
    return Path(tempfile.gettempdir()) / f"leadscore-{server_pid}.failed-starts"


def gave_up(server_pid: int) -> bool:
    """Whether the server stopped because its workers could not start (clears the mark)."""
    path = failures_file(server_pid)
    stopped = path.exists() and path.read_text() == GAVE_UP
    path.unlink(missing_ok=True)
    return stopped


def mark_started() -> None:
    """A worker started: failures before it do not count towards giving up."""
    failures_file(os.getppid()).unlink(missing_ok=True)


def failed_to_start() -> None:
    """A worker could not start. BentoML respawns workers that die (so a killed one is
    replaced); one that cannot start would be respawned forever, so after MAX_FAILED_STARTS
    failures in a row the server is stopped."""
    path = failures_file(os.getppid())
    try:
        count = int(path.read_text() or 0) + 1 if path.exists() else 1
    except ValueError:
        count = 1
    path.write_text(str(count))
    if count >= MAX_FAILED_STARTS and "BENTOML_CONTAINERIZED" not in os.environ:
        log.error("leadscore: %d failed starts in a row; stopping the server", count)
        path.write_text(GAVE_UP)
        os.kill(os.getppid(), signal.SIGTERM)
