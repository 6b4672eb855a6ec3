"""The service's OpenAPI 3.1 document, built from the pydantic models of `serving.schemas`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from serving.schemas import ErrorResponse, ModelInfo, ScoreRequest, ScoreResponse

REF = "#/components/schemas/{model}"


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ref}}},
    }


def _errors(*statuses: tuple[int, str]) -> dict[str, Any]:
    return {str(code): _json(REF.format(model="ErrorResponse"), text) for code, text in statuses}


def build_openapi(
    version: str, auth: bool, request_model: type[BaseModel] = ScoreRequest
) -> dict[str, Any]:
    """OpenAPI for /score, /model, /reload and the health endpoints; bearer auth when a token
    is set. `request_model`: the body of /score (a single-table model's is built from its
    columns)."""
    refs, schema = models_json_schema(
        [
            (request_model, "validation"),
            (ScoreResponse, "serialization"),
            (ErrorResponse, "serialization"),
            (ModelInfo, "serialization"),
        ],
        ref_template=REF,
    )
    security: list[dict[str, list[str]]] = [{"bearerAuth": []}] if auth else []
    unauthorized = [(401, "Missing or wrong bearer token.")] if auth else []
    score = {
        "post": {
            "operationId": "score",
            "summary": "Score leads: probability, percentile, tier, sub-scores and reasons.",
            "description": (
                "Scores up to 1,000 leads as of `as_of` (default now). Activities at or after "
                "as_of are not used and are listed in `warnings`. A malformed request is "
                "answered with a 4xx error naming the lead index and field; no lead is dropped."
            ),
            "security": security,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": refs[(request_model, "validation")]}},
            },
            "responses": {
                "200": _json(refs[(ScoreResponse, "serialization")]["$ref"], "Scores."),
                **_errors(
                    (400, "Body is not JSON, or a JSON object repeats a key."),
                    *unauthorized,
                    (413, "Body larger than the configured limit."),
                    (415, "Content type is not application/json."),
                    (422, "Valid JSON that breaks the contract; `problems` say where."),
                    (
                        503,
                        "Not ready, too many requests in flight (`overloaded`), or the "
                        "prediction log cannot be written (`log_unavailable`); see Retry-After.",
                    ),
                ),
            },
        }
    }
    model = {
        "get": {
            "operationId": "model",
            "summary": "The served model: name, version, alias, training window, metrics.",
            "security": security,
            "responses": {
                "200": _json(refs[(ModelInfo, "serialization")]["$ref"], "Model card."),
                **_errors(*unauthorized),
            },
        }
    }

    reload = {
        "post": {
            "operationId": "reload",
            "summary": "Serve the tier policy applied in the registry now, without a restart.",
            "description": (
                "Checks the registry for the policy applied to the served model version (a "
                "worker also checks every LEADSCORE_POLICY_REFRESH_SECONDS). Needs "
                "`Content-Type: application/json` and a JSON object (ignored: `{}`). With "
                "several workers, "
                "each picks the policy up on its own check."
            ),
            "security": security,
            "requestBody": {
                "required": True,
                "description": "Ignored: send `{}`.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {
                    "description": "The policy served now, and whether it changed.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "policy_version": {"type": "string"},
                                    "changed": {"type": "boolean"},
                                },
                                "required": ["policy_version", "changed"],
                            }
                        }
                    },
                },
                **_errors(
                    (400, "Body is not JSON."),
                    *unauthorized,
                    (409, "The applied policy has no valid record; the served one stays."),
                    (413, "Body larger than 64 KiB."),
                    (415, "Content type is not application/json."),
                    (422, "The body is not a JSON object."),
                    (503, "The registry cannot be read in time; the served policy stays."),
                ),
            },
        }
    }

    def probe(summary: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "security": [],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        }

    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "leadscore",
            "version": version,
            "description": "Calibrated, explained lead conversion scores for CRM integrations.",
        },
        "paths": {
            "/score": score,
            "/model": model,
            "/reload": reload,
            "/livez": probe("Liveness (always open)."),
            "/readyz": probe(
                "Readiness (always open): 200 once the model is loaded, 503 while the "
                "prediction log cannot be written."
            ),
        },
        "components": {"schemas": schema.get("$defs", {})},
    }
    if auth:
        spec["components"]["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    return spec
