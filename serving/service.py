"""The BentoML service: `bentoml serve serving.service:LeadScoring` (or `leadscore serve`).

POST /score is a typed `@bentoml.api` endpoint: BentoML reads the body and validates it with
pydantic (the request model of `serving.schemas`, or a single-table model's built from its
columns), and the endpoint scores it with the worker's engine and micro-batcher. What must
happen before parsing (token, content type, body limit, requests in flight) is the ASGI
middleware `serving.gate.RequestGate`; GET /model, GET /openapi.json (also at /docs.json) and
POST /reload are a small Starlette app mounted beside the endpoint (`@bentoml.api` routes are
POST only, and /reload's contract is its own).

Each worker loads the model before it takes requests (BentoML's /readyz answers 200 only
then) and refuses to start, with a message naming the model, when it cannot. Where the model
comes from, in order: LEADSCORE_MODEL_DIR (a folder prepared by `leadscore serve`), the
registry when LEADSCORE_MODEL_URI is set, the model a bento carries, the registry default
(models.registry.default_model_uri(): the @champion of LEADSCORE_MODEL_NAME, at
MLFLOW_TRACKING_URI, default sqlite:///$PWD/mlflow.db).

BentoML's per-request tracing spans, access log and (unless LEADSCORE_METRICS=1) Prometheus
middleware are turned off: on one-lead requests they cost more than scoring and their
garbage makes the latency tail (see docs/benchmarks.md).
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import bentoml
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.settings import load_settings
from serving.config import ConfigError, ServingConfig
from serving.gate import RequestGate
from serving.model_source import table_columns
from serving.redaction import quiet_validation_tracebacks, redact_logs
from serving.schemas import ScoreRequest, ScoreResponse
from serving.score_input import ParsedBody, score_input
from serving.stats import RequestStats
from serving.table_schema import table_lead_model, table_request_model

if TYPE_CHECKING:
    from serving.app import ScoringAPI
    from serving.model_source import ServedModel

log = logging.getLogger("leadscore.serving")

# BentoML imports this module in its supervisor too; the model, LightGBM and the endpoints' code
# load in the workers only (see LeadScoring.__init__), which keeps start-up short. The request
# schemas load here: BentoML needs the endpoint's input type when the class is defined.
_workers: dict[str, ScoringAPI] = {}


def _api() -> ScoringAPI | None:
    return _workers.get("api")


async def _not_ready(request: Request) -> Response:
    return Response(
        b'{"error":"not_ready","message":"the model is not loaded yet","problems":[]}',
        503,
        media_type="application/json",
    )


async def _model(request: Request) -> Response:
    api = _api()
    return await (api.model(request) if api is not None else _not_ready(request))


async def _openapi(request: Request) -> Response:
    api = _api()
    return await (api.openapi(request) if api is not None else _not_ready(request))


async def _reload(request: Request) -> Response:
    api = _api()
    return await (api.reload(request) if api is not None else _not_ready(request))


endpoints = Starlette(
    routes=[
        Route("/model", _model, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        # BentoML's docs page reads /docs.json: the same document (mounted routes come first).
        Route("/docs.json", _openapi, methods=["GET"]),
        Route("/reload", _reload, methods=["POST"]),
    ]
)
# Starlette would answer `POST /model/` with a redirect to the Host header's address: a
# forged Host made the service point clients anywhere. A wrong path is a 404 instead.
endpoints.router.redirect_slashes = False
# BentoML reads a service's settings when its class is defined, so these few come from the
# environment at import (the model itself is loaded per worker, in __init__).
_settings = ServingConfig.from_env()
# One per worker: the gate records each /score request, the endpoint the leads it scored.
_stats = RequestStats(every_seconds=_settings.stats_seconds)


def request_model(config: ServingConfig) -> type[BaseModel]:
    """The /score body of the model to serve. BentoML fixes an endpoint's input type when the
    class is defined, before any worker loads a model: a single-table model's, built from its
    columns, is read from the prepared folder (LEADSCORE_MODEL_DIR, set by `leadscore serve`).
    Without one it is the export model's; a worker that then loads a table model refuses to
    start, saying so."""
    if config.model_dir is None:
        return ScoreRequest
    try:
        columns = table_columns(config.model_dir)
    except Exception:  # a folder that does not load: the worker says why, naming the model
        return ScoreRequest
    if columns is None:
        return ScoreRequest
    return table_request_model(table_lead_model(columns.names, columns.kinds, columns.id_column))


_request_model = request_model(_settings)
if TYPE_CHECKING:
    ScoreInput = ParsedBody
else:
    ScoreInput = score_input(_request_model)


def load_served_model(config: ServingConfig) -> ServedModel:
    """The model this worker serves (see the module docstring for the order)."""
    from models.registry import BENTO_MODEL_NAME
    from serving.model_source import ModelLoadError, load_from_registry, load_model_dir

    if config.model_dir is not None:
        return load_model_dir(config.model_dir)
    # The decorated class is a BentoML Service; it knows the bento it was loaded from.
    bento = getattr(LeadScoring, "bento", None)
    if bento is not None and load_settings().model_uri is None:
        tags = [info.tag for info in bento.info.models if info.tag.name == BENTO_MODEL_NAME]
        if not tags:
            raise ModelLoadError(f"the bento {bento.tag} carries no {BENTO_MODEL_NAME} model")
        return load_model_dir(Path(bentoml.models.get(tags[0]).path))
    with tempfile.TemporaryDirectory(prefix="leadscore-model-") as scratch:
        return load_from_registry(config.model_uri, config.tracking_uri, Path(scratch))


@bentoml.service(
    name="leadscore",
    workers=_settings.workers,
    traffic={"timeout": 60},
    metrics={"enabled": _settings.metrics},
    logging={"access": {"enabled": False}},
    tracing={
        "sample_rate": 0.0,
        "excluded_urls": ["/score", "/model", "/openapi.json", "/docs.json", "/reload"],
    },
)
@bentoml.asgi_app(endpoints, path="/")
class LeadScoring:
    """Lead conversion scores for CRM integrations: POST /score, GET /model."""

    api: ScoringAPI

    def __init__(self) -> None:
        from serving.app import ScoringAPI
        from serving.model_source import ModelLoadError
        from serving.startup import (
            failed_to_start,
            first_policy_check,
            mark_started,
            open_prediction_log,
        )
        from serving.state import build_state

        started = time.perf_counter()
        config = ServingConfig.from_env()
        # BentoML's logging config keeps other loggers at WARNING; the service reports at INFO.
        logging.getLogger("leadscore").setLevel(load_settings().log_level)
        redact_logs()
        quiet_validation_tracebacks()
        try:
            served = load_served_model(config)
            state = build_state(served, config)
            if state.request_model.model_json_schema() != _request_model.model_json_schema():
                raise ModelLoadError(
                    "the request schema of /score was built before the workers started, from "
                    "LEADSCORE_MODEL_DIR, and does not fit this model: serve a single-table "
                    "model with `leadscore serve` (or set LEADSCORE_MODEL_DIR to a folder it "
                    "prepared)"
                )
            prediction_log = open_prediction_log(config)
        except (ModelLoadError, ConfigError) as exc:
            log.error("leadscore cannot start: %s", exc)
            failed_to_start()
            raise SystemExit(3) from None
        api = ScoringAPI(_stats)
        api.attach(state, config, prediction_log, first_policy_check(served, config))
        self.api = _workers["api"] = api
        mark_started()
        # Start-up objects (modules, the model) never die: keep the collector off them, so
        # collections only walk per-request garbage and stay short.
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects: with the default threshold
        # (700) the collector ran several times per request, and its older generations now and
        # then, which showed as p99 latency.
        gc.set_threshold(50_000, 20, 100)
        card = served.card
        log.info(
            "serving %s version %s%s in %.1f s",
            card.name,
            card.version,
            f" (@{card.alias})" if card.alias else "",
            time.perf_counter() - started,
        )

    @bentoml.api(route="/score", output_spec=ScoreResponse)
    async def score(self, request: ScoreInput, /) -> Response:
        """Score leads: probability, percentile, tier, sub-scores and reasons."""
        return await self.api.score(request)

    async def __is_ready__(self) -> bool:
        # Async: BentoML would otherwise run it in a thread on every probe.
        api = _api()
        return api is not None and api.healthy()

    @bentoml.on_shutdown
    async def close(self) -> None:
        api = _api()
        if api is not None:
            await api.shutdown()


def _fail_if_workers_gave_up(server_pid: int) -> None:
    """At the server's exit: non-zero when its workers stopped it because none could start
    (they stop it politely, which BentoML ends with 0), so `bentoml serve` and a container
    runtime see the failure as `leadscore serve` does."""
    from serving.startup import gave_up

    if os.getpid() == server_pid and gave_up(server_pid):
        os._exit(1)


# BentoML imports this module in the server process too, before it starts the workers.
atexit.register(_fail_if_workers_gave_up, os.getpid())

# Before BentoML reads a request: the token (on every route but health, BentoML's own too), the
# content type, the body limit and the requests in flight (serving/gate.py).
LeadScoring.add_asgi_middleware(  # type: ignore[attr-defined]
    RequestGate,
    token=_settings.api_token,
    max_body_bytes=_settings.max_body_bytes,
    max_in_flight=_settings.max_in_flight,
    stats=_stats,
)
