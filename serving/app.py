"""The HTTP endpoints that the BentoML service mounts: POST /score, GET /model, /openapi.json.

Kept lean on purpose: the body is read once with a size limit and validated by pydantic's
Rust JSON parser, responses are serialised once with `json.dumps`, and BentoML's per-request
tracing and access logging are off for these routes (see `serving.service`). The service logs
counts, latencies and errors, never bodies or lead fields.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from models.tiers import TierPolicy, assign_tier
from ops.policy_store import PolicyStore, PolicyWatcher
from ops.prediction_log import PredictionLog
from serving.batching import MicroBatcher
from serving.config import ServingConfig
from serving.engine import ActivityColumns, EngineScores, ScoringEngine, utc_micros
from serving.errors import (
    RequestError,
    invalid_request,
    lead_problem,
    problems_from_validation,
)
from serving.model_source import ServedModel
from serving.openapi import build_openapi
from serving.schemas import Lead, ScoreRequest

log = logging.getLogger("leadscore.serving")

JSON = "application/json"
STATS_EVERY_SECONDS = 60.0
AT_OR_AFTER_AS_OF = "activity at or after as_of: not used"


def _iso(value: datetime) -> str:
    return value.isoformat() + "Z"


@dataclass
class RequestStats:
    """Counts and latencies of requests, logged as a summary now and then."""

    every_seconds: float = STATS_EVERY_SECONDS
    requests: int = 0
    leads: int = 0
    client_errors: int = 0
    server_errors: int = 0
    since: float = 0.0

    def __post_init__(self) -> None:
        self.latencies: deque[float] = deque(maxlen=20_000)
        self.since = time.monotonic()
        self.batcher: MicroBatcher | None = None

    def record(self, status: int, leads: int, seconds: float) -> None:
        self.requests += 1
        self.leads += leads
        if 400 <= status < 500:
            self.client_errors += 1
        elif status >= 500:
            self.server_errors += 1
        self.latencies.append(seconds)
        if time.monotonic() - self.since >= self.every_seconds:
            self.flush()

    def flush(self) -> None:
        if not self.requests:
            return
        p50, p99 = np.percentile(np.asarray(self.latencies), [50, 99]) * 1e3
        batches = self.batcher.take_counts() if self.batcher is not None else (0, 0)
        log.info(
            "score: %d requests, %d leads, %d client errors, %d server errors in %.0f s; "
            "latency p50 %.1f ms, p99 %.1f ms; %d batches of %.1f requests on average",
            self.requests,
            self.leads,
            self.client_errors,
            self.server_errors,
            time.monotonic() - self.since,
            p50,
            p99,
            batches[0],
            batches[1] / max(batches[0], 1),
        )
        self.requests = self.leads = self.client_errors = self.server_errors = 0
        self.latencies.clear()
        self.since = time.monotonic()


@dataclass(frozen=True)
class ServingState:
    """What a worker serves with, once the model is loaded."""

    engine: ScoringEngine
    batcher: MicroBatcher
    model_ref: dict[str, Any]
    model_info: bytes
    openapi: bytes


def build_state(served: ServedModel, config: ServingConfig) -> ServingState:
    scorer = served.scorer
    card = served.card
    engine = ScoringEngine(scorer)
    featurizer = scorer.featurizer
    info = {
        **asdict(card),
        "features": [
            {
                "name": name,
                "group": featurizer.feature_info_[name].group,
                "description": featurizer.feature_info_[name].description,
            }
            for name in featurizer.feature_names_out_
        ],
        "tier_policy": scorer.policy.to_dict(),
    }
    return ServingState(
        engine=engine,
        batcher=MicroBatcher(engine),
        model_ref={
            "name": card.name,
            "version": card.version,
            "alias": card.alias,
            "policy_version": scorer.policy.version,
        },
        model_info=json.dumps(info).encode(),
        openapi=json.dumps(build_openapi(card.version, config.api_token is not None)).encode(),
    )


def policy_watcher_for(served: ServedModel, config: ServingConfig) -> PolicyWatcher | None:
    """A watcher of the tier policy applied to the served registry version, checked once now.

    None when refreshing is off, the model is no registry version, or the registry is a local
    SQLite file that is not there (a bento carried away from its MLflow store).
    """
    card = served.card
    uri = config.tracking_uri
    if config.policy_refresh_seconds <= 0 or not card.version.isdigit():
        return None
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    watcher = PolicyWatcher(
        PolicyStore(card.name, client),
        card.version,
        served.scorer.policy,
        interval_s=config.policy_refresh_seconds,
    )
    watcher.refresh()
    return watcher


def check_leads(
    leads: Sequence[Lead], default_as_of: datetime
) -> tuple[list[datetime], list[dict[str, Any]], ActivityColumns]:
    """Each lead's as_of, warnings for activities not used, and the activities column-wise.

    Raises on impossible leads (a duplicate lead_id, created after its as_of).
    """
    problems = []
    seen: dict[str, int] = {}
    as_of: list[datetime] = []
    for i, lead in enumerate(leads):
        first = seen.setdefault(str(lead.lead_id), i)
        if first != i:
            problems.append(lead_problem(i, "lead_id", f"duplicate of leads[{first}].lead_id"))
        when = lead.as_of or default_as_of
        if lead.created_at > when:
            problems.append(lead_problem(i, "created_at", f"after as_of {_iso(when)}"))
        as_of.append(when)
    if problems:
        raise invalid_request(problems)
    activities = ActivityColumns.of(leads)
    late = np.flatnonzero(activities.micros >= utc_micros(as_of)[activities.owner])
    warnings: list[dict[str, Any]] = []
    if late.size:
        position = activities.index_in_lead()
        for k in late.tolist():
            i = int(activities.owner[k])
            warnings.append(
                {
                    "lead_index": i,
                    "lead_id": str(leads[i].lead_id),
                    "activity_index": int(position[k]),
                    "message": AT_OR_AFTER_AS_OF,
                }
            )
    return as_of, warnings, activities


def render_scores(
    leads: Sequence[Lead],
    as_of: Sequence[datetime],
    request_as_of: datetime,
    scores: EngineScores,
    explain: bool,
    model_ref: dict[str, Any],
    warnings: list[dict[str, Any]],
) -> bytes:
    probability = scores.probability.tolist()
    percentile = scores.percentile.tolist()
    tier = scores.tier.tolist()
    stamps: dict[datetime, str] = {}
    items: list[dict[str, Any]] = []
    if explain:
        fit = scores.fit_score.tolist()
        engagement = scores.engagement_score.tolist()
    for i, lead in enumerate(leads):
        when = as_of[i]
        stamp = stamps.get(when) or stamps.setdefault(when, _iso(when))
        item: dict[str, Any] = {
            "lead_id": str(lead.lead_id),
            "as_of": stamp,
            "probability": probability[i],
            "percentile": percentile[i],
            "tier": tier[i],
        }
        if explain:
            item["fit_score"] = fit[i]
            item["engagement_score"] = engagement[i]
            item["reasons"] = {
                "positive": scores.reasons_positive[i],
                "negative": scores.reasons_negative[i],
            }
        else:
            item["fit_score"] = item["engagement_score"] = item["reasons"] = None
        items.append(item)
    payload = {
        "as_of": _iso(request_as_of),
        "model": model_ref,
        "scores": items,
        "warnings": warnings,
    }
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class ScoringAPI:
    """The endpoints; a worker attaches its loaded model with `attach`."""

    def __init__(self) -> None:
        self.state: ServingState | None = None
        self.config: ServingConfig | None = None
        self._token: bytes | None = None
        self.stats = RequestStats()
        self.prediction_log: PredictionLog | None = None
        self.policy_watcher: PolicyWatcher | None = None
        self._policy_check: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.state is not None

    def attach(
        self,
        state: ServingState,
        config: ServingConfig,
        prediction_log: PredictionLog | None = None,
        policy_watcher: PolicyWatcher | None = None,
    ) -> None:
        self.config = config
        self._token = f"Bearer {config.api_token}".encode() if config.api_token else None
        self.state = state
        self.stats.every_seconds = config.stats_seconds
        self.stats.batcher = state.batcher
        self.prediction_log = prediction_log
        self.policy_watcher = policy_watcher
        if policy_watcher is not None and policy_watcher.policy != state.engine.scorer.policy:
            self.apply_policy(policy_watcher.policy)

    # ------------------------------------------------------ closed loop and tier policy
    def apply_policy(self, policy: TierPolicy) -> None:
        """Serve `policy` from the next batch on; /model and every response report its version."""
        state = self.state
        if state is None:
            return
        engine = state.engine
        engine.scorer = engine.scorer.with_policy(policy)
        info = json.loads(state.model_info)
        info["tier_policy"] = policy.to_dict()
        model_ref = {**state.model_ref, "policy_version": policy.version}
        self.state = replace(state, model_ref=model_ref, model_info=json.dumps(info).encode())
        log.info("tier policy %s now served", policy.version)

    async def _refresh_policy(self) -> bool:
        watcher = self.policy_watcher
        if watcher is None:
            return False
        policy = await anyio.to_thread.run_sync(watcher.refresh)
        if policy is not None:
            self.apply_policy(policy)
        return policy is not None

    async def _refresh_in_background(self) -> None:
        try:
            await self._refresh_policy()
        finally:
            self._policy_check = None

    def _policy_tick(self) -> None:
        """Check the registry for a newly applied policy when due, off the request path."""
        watcher = self.policy_watcher
        if watcher is not None and self._policy_check is None and watcher.due():
            self._policy_check = asyncio.get_running_loop().create_task(
                self._refresh_in_background()
            )

    def _log_scores(
        self, leads: Sequence[Lead], as_of: Sequence[datetime], scores: EngineScores
    ) -> None:
        state, store = self.state, self.prediction_log
        if state is None or store is None:
            return
        ref = state.model_ref
        store.append(
            {
                "lead_id": [str(lead.lead_id) for lead in leads],
                "as_of": list(as_of),
                "probability": scores.probability,
                "tier": scores.tier,
            },
            model_name=str(ref["name"]),
            model_version=str(ref["version"]),
            policy_version=str(ref["policy_version"]),
        )

    async def shutdown(self) -> None:
        self.stats.flush()
        if self.state is not None:
            await self.state.batcher.close()

    # ----------------------------------------------------------------- helpers
    def _authorize(self, request: Request) -> None:
        if self._token is None:
            return
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._token):
            raise RequestError(
                401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'"
            )

    async def _read_body(self, request: Request, limit: int) -> bytes:
        content_type = request.headers.get("content-type")
        if content_type is not None and content_type.split(";")[0].strip().lower() != JSON:
            raise RequestError(415, "unsupported_media_type", "send Content-Type: application/json")
        declared = request.headers.get("content-length")
        too_large = RequestError(
            413, "body_too_large", f"request body larger than {limit:,} bytes; split the leads"
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def _parse(body: bytes) -> ScoreRequest:
        if not body.strip():
            raise RequestError(400, "invalid_json", "empty body: send a JSON object with leads")
        try:
            return ScoreRequest.model_validate_json(body)
        except ValidationError as exc:
            problems = problems_from_validation(exc)
            kinds = {e["type"] for e in exc.errors(include_input=False, include_url=False)}
            if "json_invalid" in kinds:
                raise RequestError(
                    400, "invalid_json", "body is not valid JSON", problems
                ) from None
            raise invalid_request(problems) from None

    @staticmethod
    def _error(status: int, error: str, message: str) -> Response:
        return Response(RequestError(status, error, message).body(), status, media_type=JSON)

    # --------------------------------------------------------------- endpoints
    async def score(self, request: Request) -> Response:
        started = time.perf_counter()
        state, config = self.state, self.config
        n_leads = 0
        status = 200
        try:
            if state is None or config is None:
                status = 503
                return self._error(503, "not_ready", "the model is not loaded yet")
            self._authorize(request)
            parsed = self._parse(await self._read_body(request, config.max_body_bytes))
            leads = parsed.leads
            n_leads = len(leads)
            request_as_of = parsed.as_of or datetime.now(UTC).replace(tzinfo=None)
            as_of, warnings, activities = check_leads(leads, request_as_of)
            self._policy_tick()
            policy = state.engine.scorer.policy
            scores = await state.batcher.score(leads, as_of, parsed.explain, activities)
            if self.state is not state:
                # The tier policy changed while this request was scored: answer (and log) it
                # under the policy whose version the response names.
                scores = replace(scores, tier=assign_tier(scores.probability, policy))
            if self.prediction_log is not None:
                try:
                    # Committed before the answer: a score the CRM received is never lost.
                    await anyio.to_thread.run_sync(self._log_scores, leads, as_of, scores)
                except Exception as exc:
                    log.error("cannot log %d scores: %s", n_leads, type(exc).__name__)
                    raise RequestError(
                        503, "log_unavailable", "the prediction log cannot record scores; retry"
                    ) from None
            body = render_scores(
                leads, as_of, request_as_of, scores, parsed.explain, state.model_ref, warnings
            )
            return Response(body, media_type=JSON)
        except RequestError as exc:
            status = exc.status
            if status >= 500:
                log.error("score: %s", exc.error)
            return Response(exc.body(), status, media_type=JSON)
        except Exception as exc:
            # The message may quote lead fields, so only the kind of failure is logged.
            status = 500
            log.error("score failed on %d leads: %s", n_leads, type(exc).__name__)
            return self._error(500, "internal_error", "scoring failed; see the service log")
        finally:
            self.stats.record(status, n_leads, time.perf_counter() - started)

    def _admit(self, request: Request) -> ServingState | Response:
        """The loaded state for an authorised admin request, else the error response."""
        if self.state is None:
            return self._error(503, "not_ready", "the model is not loaded yet")
        try:
            self._authorize(request)
        except RequestError as exc:
            return Response(exc.body(), exc.status, media_type=JSON)
        return self.state

    async def model(self, request: Request) -> Response:
        state = self._admit(request)
        if isinstance(state, Response):
            return state
        return Response(state.model_info, media_type=JSON)

    async def reload(self, request: Request) -> Response:
        """POST /reload: pick up a newly applied tier policy now (protected like scoring)."""
        admitted = self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        changed = await self._refresh_policy()
        state = self.state or admitted
        body = {"policy_version": state.model_ref["policy_version"], "changed": changed}
        return Response(json.dumps(body).encode(), media_type=JSON)

    async def openapi(self, request: Request) -> Response:
        if self.state is None:
            return self._error(503, "not_ready", "the model is not loaded yet")
        return Response(self.state.openapi, media_type=JSON)
