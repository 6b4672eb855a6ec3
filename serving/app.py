"""What a worker answers: POST /score (behind BentoML's `@bentoml.api`, `serving.service`),
and GET /model, GET /openapi.json and POST /reload (a small Starlette app the service mounts).

/score receives the request BentoML parsed with the endpoint's input type
(`serving.score_input`): the token, content type and body limit were checked before parsing
(`serving.gate`). It answers the documented JSON itself (a Starlette Response, which BentoML
passes through): scores serialised once by pydantic-core, errors as
`{"error", "message", "problems"}` with their status. The service logs counts, latencies and
the kind of an error, never bodies or lead fields.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from models.tiers import TierPolicy, assign_tier
from ops.policy_store import PolicyCheckFailed, PolicyWatcher
from ops.prediction_log import PredictionLog, describe_failure
from serving.config import ServingConfig
from serving.engine import EngineScores
from serving.errors import RequestError
from serving.lead_checks import check_leads, render_scores
from serving.log_breaker import LogBreaker
from serving.policy_refresh import PolicyRefresher
from serving.redaction import redact
from serving.schemas import Lead
from serving.score_input import ParsedBody
from serving.state import ServingState
from serving.stats import RequestStats
from serving.table import TableEngine, check_table_leads

log = logging.getLogger("leadscore.serving")

JSON = "application/json"
# Threads for prediction-log writes (their own pool: registry calls use another).
LOG_THREADS = 8


class ScoringAPI:
    """The endpoints; a worker attaches its loaded model with `attach`."""

    def __init__(self, stats: RequestStats | None = None) -> None:
        self.state: ServingState | None = None
        self.config: ServingConfig | None = None
        # Shared with the request gate, which records each request's status and latency.
        self.stats = stats if stats is not None else RequestStats()
        self.prediction_log: PredictionLog | None = None
        self.breaker: LogBreaker | None = None
        self.policy: PolicyRefresher | None = None
        self._log_limiter: anyio.CapacityLimiter | None = None

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
    async def score(self, request: ParsedBody) -> Response:
        """POST /score: `request` as parsed (or refused) for the endpoint."""
        state = self.state
        n_leads = 0
        try:
            if state is None:
                raise RequestError(503, "not_ready", "the model is not loaded yet")
            if self.breaker is not None and self.breaker.open:
                raise self._log_unavailable(self.breaker)
            if request.refusal is not None:
                raise request.refusal
            leads = request.leads
            n_leads = len(leads)
            self.stats.leads += n_leads
            request_as_of = request.as_of or datetime.now(UTC).replace(tzinfo=None)
            check = check_table_leads if isinstance(state.engine, TableEngine) else check_leads
            as_of, warnings, activities = check(leads, request_as_of)
            if self.policy is not None:
                self.policy.tick()
            # One snapshot per request: the policy, its version and the model answered and
            # logged are those of the state read here, whatever changes meanwhile.
            state = self.state or state
            scores = await state.batcher.score(leads, as_of, request.explain, activities)
            if scores.policy is not state.policy:
                scores = replace(scores, tier=assign_tier(scores.probability, state.policy))
            await self._write_log(state, leads, as_of, scores)
            answer = render_scores(
                leads, as_of, request_as_of, scores, request.explain, state.model_ref, warnings
            )
            return Response(answer, media_type=JSON)
        except RequestError as exc:
            if exc.status >= 500 and exc.error != "log_unavailable":
                log.error("score: %s", exc.error)
            return self._error_response(exc)
        except Exception as exc:
            # The message may quote lead fields, so only the kind of failure is logged.
            log.error("score failed on %d leads: %s", n_leads, type(exc).__name__)
            return self._error(500, "internal_error", "scoring failed; see the service log")

    @staticmethod
    def _error_response(exc: RequestError) -> Response:
        return Response(exc.body(), exc.status, headers=exc.headers, media_type=JSON)

    def _admit(self) -> ServingState | Response:
        """The loaded state for an admin request (the gate checked the token), else 503."""
        if self.state is None:
            return self._error(503, "not_ready", "the model is not loaded yet")
        return self.state

    async def model(self, request: Request) -> Response:
        state = self._admit()
        if isinstance(state, Response):
            return state
        return Response(state.model_info, media_type=JSON)

    async def reload(self, request: Request) -> Response:
        """POST /reload: pick up a newly applied tier policy now (protected like scoring).

        503 when the registry cannot be read, 409 when the applied policy has no valid
        record; either way the policy served stays, and the answer says which it is.
        """
        admitted = self._admit()
        if isinstance(admitted, Response):
            return admitted
        try:
            # The body is ignored, but must be what the contract says: nothing or an object
            # (the gate checked its content type and size).
            self._empty_object(await request.body())
        except RequestError as exc:
            return self._error_response(exc)
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
        state = self._admit()
        if isinstance(state, Response):
            return state
        return Response(state.openapi, media_type=JSON)
