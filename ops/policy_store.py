"""Versioned tier policies attached to a registered model version, and which one is served.

A model version is registered with the policy it was trained with packed inside it (version
"1", `tier_policy.json` beside the scorer). Marketing ops may later choose other thresholds for
the same model; each choice becomes a new policy version of that model version:

- model-version tag ``tier_policy.<n>``: the policy record as JSON (thresholds, the targets, the
  figures they were chosen on, who, when, why); what a service needs to switch policy;
- the record and any files given with it (threshold table, report page) as artifacts of the
  model version's training run under ``tier_policies/v<n>/``;
- model-version tag ``tier_policy_version``: the *applied* policy version, the one served with
  that model version (training sets it to the packed policy's version).

Applying is moving that tag; it never changes the logged model. Whoever serves a model version
asks :meth:`PolicyStore.served_policy` at load and again from time to time
(:class:`PolicyWatcher`) or on an explicit reload, so an applied policy takes effect without a
restart. Two people saving policies for the same model version at the same instant may get the
same number; the later write wins (the registry has no compare-and-set).
"""

from __future__ import annotations

import getpass
import json
import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.registry import APPLIED_POLICY_TAG, PACKAGED_POLICY_PATH, version_uri
from models.settings import load_settings
from models.tiers import TierPolicy

log = logging.getLogger(__name__)

POLICY_TAG_PREFIX = "tier_policy."
APPLIED_BY_TAG = "tier_policy_applied_by"
APPLIED_AT_TAG = "tier_policy_applied_at"
ARTIFACT_DIR = "tier_policies"
REASON_LIMIT = 4_000  # characters of the free-text reason kept in the tag


class PolicyNotFound(LookupError):
    """No such policy version for the model version."""


class InvalidPolicy(ValueError):
    """A recorded policy that cannot be served (say, its MQL threshold above its SQL one)."""


class PolicyCheckFailed(RuntimeError):
    """The applied policy could not be read (`unreadable`: the registry failed) or has no
    valid record; the current one stays."""

    def __init__(self, message: str, unreadable: bool) -> None:
        super().__init__(message)
        self.unreadable = unreadable


def _parse_record(value: str, where: str) -> StoredPolicy:
    """A policy record from its tag, refused with a message naming it when it is not valid."""
    try:
        return StoredPolicy.from_dict(json.loads(value))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidPolicy(f"{where} is not a valid tier policy: {exc}") from None


def current_author() -> str:
    """Who is acting: LEADSCORE_USER, else the login name."""
    try:
        return load_settings().user or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredPolicy:
    """One policy version of a model version, with what it was chosen on and by whom."""

    policy: TierPolicy
    model_name: str
    model_version: str
    targets: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    author: str = ""
    created_at: str = ""
    reason: str = ""
    artifact_path: str | None = None

    @property
    def version(self) -> str:
        return self.policy.version

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_dict(),
            "model_name": self.model_name,
            "model_version": self.model_version,
            "targets": self.targets,
            "figures": self.figures,
            "author": self.author,
            "created_at": self.created_at,
            "reason": self.reason,
            "artifact_path": self.artifact_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredPolicy:
        return cls(
            policy=TierPolicy.from_dict(data["policy"]),
            model_name=str(data["model_name"]),
            model_version=str(data["model_version"]),
            targets={str(k): float(v) for k, v in dict(data.get("targets", {})).items()},
            figures=dict(data.get("figures", {})),
            author=str(data.get("author", "")),
            created_at=str(data.get("created_at", "")),
            reason=str(data.get("reason", "")),
            artifact_path=data.get("artifact_path"),
        )


def _version_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


class PolicyStore:
    """Tier policies of one registered model, kept in the MLflow model registry."""

    def __init__(self, model_name: str, client: Any | None = None) -> None:
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient()
        self.model_name = model_name
        self.client = client

    def _tags(self, model_version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(self.model_name, str(model_version)).tags)

    def history(self, model_version: str) -> list[StoredPolicy]:
        """Every saved policy of the model version, oldest first (the packed one is not listed)."""
        records = [
            StoredPolicy.from_dict(json.loads(value))
            for key, value in self._tags(model_version).items()
            if key.startswith(POLICY_TAG_PREFIX)
        ]
        return sorted(records, key=lambda r: _version_number(r.version))

    def get(self, model_version: str, policy_version: str) -> StoredPolicy:
        value = self._tags(model_version).get(f"{POLICY_TAG_PREFIX}{policy_version}")
        if value is None:
            raise PolicyNotFound(
                f"{self.model_name} version {model_version} has no tier policy {policy_version}"
            )
        return _parse_record(value, self._where(model_version, policy_version))

    def _where(self, model_version: str, policy_version: str) -> str:
        return f"tier policy {policy_version} of {self.model_name} version {model_version}"

    def applied_version(self, model_version: str) -> str | None:
        return self._tags(model_version).get(APPLIED_POLICY_TAG)

    def next_version(self, model_version: str) -> str:
        tags = self._tags(model_version)
        taken = [
            _version_number(key.removeprefix(POLICY_TAG_PREFIX))
            for key in tags
            if key.startswith(POLICY_TAG_PREFIX)
        ]
        taken.append(_version_number(tags.get(APPLIED_POLICY_TAG, "1")))
        return str(max(taken, default=1) + 1)

    def save(
        self,
        model_version: str,
        policy: TierPolicy,
        *,
        targets: Mapping[str, float] | None = None,
        figures: Mapping[str, Any] | None = None,
        reason: str = "",
        author: str | None = None,
        files: Mapping[str, str | bytes] | None = None,
    ) -> StoredPolicy:
        """Record `policy` as the next policy version of the model version (not applied yet).

        `files` (name -> content) are logged beside the record, e.g. the threshold table and
        the report page.
        """
        model_version = str(model_version)
        number = self.next_version(model_version)
        found = self.client.get_model_version(self.model_name, model_version)
        artifact_path = f"{ARTIFACT_DIR}/v{number}" if found.run_id else None
        record = StoredPolicy(
            policy=replace(policy, version=number),
            model_name=self.model_name,
            model_version=model_version,
            targets={k: float(v) for k, v in (targets or {}).items()},
            figures=dict(figures or {}),
            author=author or current_author(),
            created_at=_now(),
            reason=reason,
            artifact_path=artifact_path,
        )
        if found.run_id and artifact_path:
            self._log_artifacts(found.run_id, artifact_path, record, files or {})
        tag_record = replace(record, reason=record.reason[:REASON_LIMIT])
        self.client.set_model_version_tag(
            self.model_name,
            model_version,
            f"{POLICY_TAG_PREFIX}{number}",
            json.dumps(tag_record.to_dict(), separators=(",", ":"), default=str),
        )
        log.info("%s version %s: saved tier policy %s", self.model_name, model_version, number)
        return record

    def _log_artifacts(
        self, run_id: str, artifact_path: str, record: StoredPolicy, files: Mapping[str, Any]
    ) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "policy.json").write_text(json.dumps(record.to_dict(), indent=2, default=str))
            for name, content in files.items():
                target = folder / name
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content, encoding="utf-8")
            self.client.log_artifacts(run_id, str(folder), artifact_path)

    def apply(self, model_version: str, policy_version: str, author: str | None = None) -> None:
        """Make a saved policy version (or the packed one) the one served with the model version."""
        model_version, policy_version = str(model_version), str(policy_version)
        tags = self._tags(model_version)
        record = tags.get(f"{POLICY_TAG_PREFIX}{policy_version}")
        if record is None and policy_version != "1":
            raise PolicyNotFound(
                f"{self.model_name} version {model_version} has no tier policy {policy_version}"
            )
        if record is not None:
            # Whoever wrote the tag, a policy that cannot be served is never applied.
            _parse_record(record, self._where(model_version, policy_version))
        for key, value in (
            (APPLIED_POLICY_TAG, policy_version),
            (APPLIED_BY_TAG, author or current_author()),
            (APPLIED_AT_TAG, _now()),
        ):
            self.client.set_model_version_tag(self.model_name, model_version, key, value)
        log.info(
            "%s version %s: tier policy %s applied", self.model_name, model_version, policy_version
        )

    def served_policy(self, model_version: str, packaged: TierPolicy) -> TierPolicy:
        """The policy to serve with the model version: the applied one, else the packed one.

        Raises PolicyNotFound when the applied tag names a policy with no record, and
        InvalidPolicy when the record cannot be served: falling back to the packed policy
        would change every lead's tier without anyone deciding it.
        """
        tags = self._tags(model_version)
        applied = tags.get(APPLIED_POLICY_TAG)
        if applied is None or applied == packaged.version:
            return packaged
        value = tags.get(f"{POLICY_TAG_PREFIX}{applied}")
        if value is None:
            raise PolicyNotFound(
                f"{self.model_name} version {model_version}: the applied tier policy {applied} "
                "has no record"
            )
        return _parse_record(value, self._where(model_version, applied)).policy

    def packaged_policy(self, model_version: str) -> TierPolicy:
        """The policy packed inside the logged model (downloads one small file)."""
        import mlflow.artifacts

        uri = f"{version_uri(self.model_name, model_version)}/{PACKAGED_POLICY_PATH}"
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
            return TierPolicy.from_dict(json.loads(Path(path).read_text()))


class PolicyWatcher:
    """Keeps a served model version's tier policy in step with the applied one.

    Call :meth:`refresh` from a timer (every `interval_s`) or a reload endpoint; it returns the
    new policy when the applied one changed, else None. When the registry cannot be read, or
    the applied policy has no valid record, it raises PolicyCheckFailed saying why, and the
    current policy stays.
    """

    def __init__(
        self,
        store: PolicyStore,
        model_version: str,
        packaged: TierPolicy,
        interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.model_version = str(model_version)
        self.packaged = packaged
        self.interval_s = interval_s
        self.clock = clock
        self.policy = packaged
        self._checked_at: float | None = None

    def due(self) -> bool:
        return self._checked_at is None or self.clock() - self._checked_at >= self.interval_s

    def check(self) -> TierPolicy:
        """The policy that should be served now (nothing changes here); raises
        PolicyCheckFailed saying why when that cannot be known."""
        self._checked_at = self.clock()
        try:
            return self.store.served_policy(self.model_version, self.packaged)
        except (PolicyNotFound, InvalidPolicy) as exc:
            raise PolicyCheckFailed(
                f"{exc}; still serving tier policy {self.policy.version}", unreadable=False
            ) from None
        except Exception as exc:  # MLflow raises many kinds; a registry outage keeps scoring
            raise PolicyCheckFailed(
                f"cannot read the applied tier policy from the registry ({type(exc).__name__}: "
                f"{exc}); still serving tier policy {self.policy.version}",
                unreadable=True,
            ) from None

    def refresh(self) -> TierPolicy | None:
        policy = self.check()
        return policy if self.adopt(policy) else None

    def adopt(self, policy: TierPolicy) -> bool:
        """Take `policy` (a `check` result) as the one served; whether it changed."""
        if policy == self.policy:
            return False
        log.info(
            "tier policy %s -> %s (sql %.4f, mql %.4f)",
            self.policy.version,
            policy.version,
            policy.sql_threshold,
            policy.mql_threshold,
        )
        self.policy = policy
        return True

    def refresh_if_due(self) -> TierPolicy | None:
        return self.refresh() if self.due() else None
