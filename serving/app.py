"""The HTTP endpoints that the BentoML service mounts: POST /score, GET /model, /openapi.json.

Kept lean on purpose: the body is read once with a size limit and validated by pydantic's
Rust JSON parser, responses are serialised once with `json.dumps`, and BentoML's per-request
tracing and access logging are off for these routes (see `serving.service`). The service logs
counts, latencies and errors, never bodies or lead fields.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from models.memory import give_back
from models.tiers import TierPolicy, assign_tier
from ops.policy_store import PolicyCheckFailed, PolicyWatcher
from ops.prediction_log import PredictionLog, describe_failure
from serving.config import ServingConfig
from serving.engine import EngineScores
from serving.errors import (
    Problem,
    RequestError,
    invalid_request,
    problems_from_validation,
)
from serving.gate import token_matches
from serving.json_keys import duplicate_key
from serving.lead_checks import check_leads, render_scores
from serving.log_breaker import LogBreaker
from serving.memory import LARGE_BODY_BYTES
from serving.policy_refresh import PolicyRefresher
from serving.redaction import redact
from serving.schemas import Lead, ScoreRequest
from serving.state import ServingState
from serving.stats import RequestStats
from serving.table import (
    TableEngine,
    check_table_leads,
)

log = logging.getLogger("leadscore.serving")

JSON = "application/json"
# Threads for prediction-log writes (their own pool: registry calls use another).
LOG_THREADS = 8
RELOAD_BODY_BYTES = 64 * 1024


class ScoringAPI:
    """The endpoints; a worker attaches its loaded model with `attach`."""

    def __init__(self) -> None:
        self.state: ServingState | None = None
        self.config: ServingConfig | None = None
        self._token: bytes | None = None
        self.stats = RequestStats()
        self.prediction_log: PredictionLog | None = None
        self.breaker: LogBreaker | None = None
        self.policy: PolicyRefresher | None = None
        self._log_limiter: anyio.CapacityLimiter | None = None
        self._in_flight = 0

    @property
    def ready(self) -> bool:
        return self.state is not None

    def healthy(self) -> bool:
        """Ready for traffic (what /readyz answers): loaded, and the prediction log writable
        as far as the last write knows."""
        return self.state is not None and not (self.breaker is not None and self.breaker.open)

    def attach(
        self,
        state: ServingState,
        config: ServingConfig,
        prediction_log: PredictionLog | None = None,
        policy_watcher: PolicyWatcher | None = None,
    ) -> None:
        self.config = config
        self._token = config.api_token.encode() if config.api_token else None
        self.state = state
        self.stats.every_seconds = config.stats_seconds
        self.stats.batcher = state.batcher
        self.prediction_log = prediction_log
        self.breaker = LogBreaker(config.log_retry_seconds) if prediction_log else None
        self.policy = (
            PolicyRefresher(policy_watcher, self.apply_policy, config.registry_timeout_seconds)
            if policy_watcher is not None
            else None
        )
        if policy_watcher is not None and policy_watcher.policy != state.policy:
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
        self.state = replace(
            state, policy=policy, model_ref=model_ref, model_info=json.dumps(info).encode()
        )
        log.info("tier policy %s now served", policy.version)

    async def _write_log(
        self,
        state: ServingState,
        leads: Sequence[Lead],
        as_of: Sequence[datetime],
        scores: EngineScores,
    ) -> None:
        """Commit the scores to the prediction log before they are answered (raises 503)."""
        store, breaker = self.prediction_log, self.breaker
        if store is None or breaker is None:
            return
        if self._log_limiter is None:
            self._log_limiter = anyio.CapacityLimiter(LOG_THREADS)
        ref = state.model_ref
        try:
            # Committed before the answer: a score the CRM received is never lost. The
            # database's own timeouts bound the wait (the write is never abandoned midway,
            # which could store a batch whose request was answered 503).
            await anyio.to_thread.run_sync(
                functools.partial(
                    store.append,
                    {
                        "lead_id": [str(lead.lead_id) for lead in leads],
                        "as_of": list(as_of),
                        "probability": scores.probability,
                        "tier": scores.tier,
                    },
                    model_name=str(ref["name"]),
                    model_version=str(ref["version"]),
                    policy_version=str(ref["policy_version"]),
                ),
                limiter=self._log_limiter,
            )
        except Exception as exc:
            breaker.failed(describe_failure(exc))
            raise self._log_unavailable(breaker) from None
        breaker.succeeded()

    @staticmethod
    def _log_unavailable(breaker: LogBreaker) -> RequestError:
        return RequestError(
            503,
            "log_unavailable",
            "the prediction log cannot record scores; retry later",
            headers={"Retry-After": str(breaker.retry_after())},
        )

    async def shutdown(self) -> None:
        self.stats.flush()
        if self.state is not None:
            await self.state.batcher.close()

    # ----------------------------------------------------------------- helpers
    def _authorize(self, request: Request) -> None:
        if self._token is not None and not token_matches(
            request.headers.get("authorization", ""), self._token
        ):
            raise RequestError(
                401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'"
            )

    @staticmethod
    def _require_json(request: Request) -> None:
        # A browser posts text/plain or a form to any address without asking first (no CORS
        # preflight); JSON it may only send where the server allows it, which this one never
        # does. So a web page cannot make a visitor's browser score or reload here.
        content_type = request.headers.get("content-type")
        if content_type is None or content_type.split(";")[0].strip().lower() != JSON:
            raise RequestError(415, "unsupported_media_type", "send Content-Type: application/json")

    async def _read_body(self, request: Request, limit: int) -> bytes:
        self._require_json(request)
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
    def _parse(body: bytes, request_model: type[BaseModel] = ScoreRequest) -> Any:
        if not body.strip():
            raise RequestError(400, "invalid_json", "empty body: send a JSON object with leads")
        try:
            parsed: Any = request_model.model_validate_json(body)
        except ValidationError as exc:
            problems = problems_from_validation(exc)
            kinds = {e["type"] for e in exc.errors(include_input=False, include_url=False)}
            if "json_invalid" in kinds:
                raise RequestError(
                    400, "invalid_json", "body is not valid JSON", problems
                ) from None
            raise invalid_request(problems) from None
        twice = duplicate_key(body, parsed)
        if twice is not None:
            # The parser keeps the last value of a repeated key: the first would be dropped.
            raise RequestError(
                400,
                "invalid_json",
                f"key {twice[:60]!r} appears twice in one JSON object; send each key once",
                [Problem("body", None, twice[:60], "duplicate key")],
            )
        return parsed

    @staticmethod
    def _empty_object(body: bytes) -> None:
        if not body.strip():
            return
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "invalid_json", "body is not valid JSON") from None
        if not isinstance(value, dict):
            raise RequestError(422, "invalid_request", "send a JSON object (or no body)")

    @staticmethod
    def _error(status: int, error: str, message: str) -> Response:
        return Response(RequestError(status, error, message).body(), status, media_type=JSON)

    # --------------------------------------------------------------- endpoints
    async def score(self, request: Request) -> Response:
        started = time.perf_counter()
        state, config = self.state, self.config
        n_leads = 0
        status = 200
        counted = False
        size = 0
        try:
            if state is None or config is None:
                status = 503
                return self._error(503, "not_ready", "the model is not loaded yet")
            self._authorize(request)
            if self._in_flight >= config.max_in_flight:
                raise RequestError(
                    503,
                    "overloaded",
                    f"this worker holds {config.max_in_flight} requests already; retry",
                    headers={"Retry-After": "1"},
                )
            self._in_flight += 1
            counted = True
            if self.breaker is not None and self.breaker.open:
                raise self._log_unavailable(self.breaker)
            body = await self._read_body(request, config.max_body_bytes)
            size = len(body)
            parsed = self._parse(body, state.request_model)
            leads = parsed.leads
            n_leads = len(leads)
            request_as_of = parsed.as_of or datetime.now(UTC).replace(tzinfo=None)
            check = check_table_leads if isinstance(state.engine, TableEngine) else check_leads
            as_of, warnings, activities = check(leads, request_as_of)
            if self.policy is not None:
                self.policy.tick()
            # One snapshot per request: the policy, its version and the model answered and
            # logged are those of the state read here, whatever changes meanwhile.
            state = self.state or state
            scores = await state.batcher.score(leads, as_of, parsed.explain, activities)
            if scores.policy is not state.policy:
                scores = replace(scores, tier=assign_tier(scores.probability, state.policy))
            await self._write_log(state, leads, as_of, scores)
            answer = render_scores(
                leads, as_of, request_as_of, scores, parsed.explain, state.model_ref, warnings
            )
            return Response(answer, media_type=JSON)
        except RequestError as exc:
            status = exc.status
            if status >= 500 and exc.error != "log_unavailable":
                log.error("score: %s", exc.error)
            return Response(exc.body(), status, headers=exc.headers, media_type=JSON)
        except Exception as exc:
            # The message may quote lead fields, so only the kind of failure is logged.
            status = 500
            log.error("score failed on %d leads: %s", n_leads, type(exc).__name__)
            return self._error(500, "internal_error", "scoring failed; see the service log")
        finally:
            if counted:
                self._in_flight -= 1
                if size >= LARGE_BODY_BYTES:
                    self._large_done()
            self.stats.record(status, n_leads, time.perf_counter() - started)

    def _large_done(self) -> None:
        """After a large request: give memory back once no other request is in flight."""
        if self._in_flight == 0:
            # Later, when this request's objects are gone (the response is still referenced).
            asyncio.get_running_loop().call_soon(give_back)

    def _admit(self, request: Request, posted: bool = False) -> ServingState | Response:
        """The loaded state for an authorised admin request, else the error response."""
        if self.state is None:
            return self._error(503, "not_ready", "the model is not loaded yet")
        try:
            self._authorize(request)
            if posted:
                self._require_json(request)
        except RequestError as exc:
            return Response(exc.body(), exc.status, media_type=JSON)
        return self.state

    async def model(self, request: Request) -> Response:
        state = self._admit(request)
        if isinstance(state, Response):
            return state
        return Response(state.model_info, media_type=JSON)

    async def reload(self, request: Request) -> Response:
        """POST /reload: pick up a newly applied tier policy now (protected like scoring).

        503 when the registry cannot be read, 409 when the applied policy has no valid
        record; either way the policy served stays, and the answer says which it is.
        """
        admitted = self._admit(request, posted=True)
        if isinstance(admitted, Response):
            return admitted
        try:
            # The body is ignored, but must be what the contract says: nothing or an object.
            self._empty_object(await self._read_body(request, RELOAD_BODY_BYTES))
        except RequestError as exc:
            return Response(exc.body(), exc.status, media_type=JSON)
        changed = False
        if self.policy is not None:
            try:
                changed = await self.policy.refresh()
            except PolicyCheckFailed as exc:
                state = self.state or admitted
                error = {
                    "error": "registry_unavailable" if exc.unreadable else "policy_not_applied",
                    "message": redact(str(exc)),
                    "problems": [],
                    "policy_version": state.model_ref["policy_version"],
                }
                log.warning("reload: %s", redact(str(exc)))
                return Response(
                    json.dumps(error).encode(), 503 if exc.unreadable else 409, media_type=JSON
                )
        state = self.state or admitted
        body = {"policy_version": state.model_ref["policy_version"], "changed": changed}
        return Response(json.dumps(body).encode(), media_type=JSON)

    async def openapi(self, request: Request) -> Response:
        state = self._admit(request)
        if isinstance(state, Response):
            return state
        return Response(state.openapi, media_type=JSON)
