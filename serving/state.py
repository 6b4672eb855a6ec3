"""What a worker serves with once its model is loaded: the engine, the micro-batcher, the tier
policy and the answers that do not change per request (model info, OpenAPI), for export and
single-table models alike."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel

from models.table_scorer import TableScorer
from models.tiers import TierPolicy
from serving.batching import MicroBatcher
from serving.config import ServingConfig
from serving.engine import ScoringEngine
from serving.model_source import ServedModel
from serving.openapi import build_openapi
from serving.schemas import ScoreRequest
from serving.table import TableEngine
from serving.table_schema import table_lead_model, table_request_model


@dataclass(frozen=True)
class ServingState:
    """What a worker serves with, once the model is loaded."""

    engine: ScoringEngine | TableEngine
    batcher: MicroBatcher
    # The tier policy served, with the version model_ref names: one snapshot per request.
    policy: TierPolicy
    model_ref: dict[str, Any]
    model_info: bytes
    openapi: bytes
    # A table model's request schema is built from its columns (serving/table.py).
    request_model: type[BaseModel] = ScoreRequest


def build_state(served: ServedModel, config: ServingConfig) -> ServingState:
    scorer = served.scorer
    if isinstance(scorer, TableScorer):
        return build_table_state(served, scorer, config)
    featurizer = scorer.featurizer
    features = [
        {
            "name": name,
            "group": featurizer.feature_info_[name].group,
            "description": featurizer.feature_info_[name].description,
        }
        for name in featurizer.feature_names_out_
    ]
    return _state(served, config, ScoringEngine(scorer), features)


def build_table_state(
    served: ServedModel, scorer: TableScorer, config: ServingConfig
) -> ServingState:
    """A single-table model's state: its table engine, and a request schema of its columns."""
    engine = TableEngine(scorer)
    features = [
        {"name": column, "group": "fit", "description": f"Table column ({kind})."}
        for column, kind in scorer.column_kinds().items()
    ]
    request = table_request_model(
        table_lead_model(scorer.input_columns, scorer.column_kinds(), scorer.id_column)
    )
    return _state(served, config, engine, features, request)


def _state(
    served: ServedModel,
    config: ServingConfig,
    engine: ScoringEngine | TableEngine,
    features: list[dict[str, str]],
    request: type[BaseModel] = ScoreRequest,
) -> ServingState:
    card, policy = served.card, engine.scorer.policy
    info = {**asdict(card), "features": features, "tier_policy": policy.to_dict()}
    auth = config.api_token is not None
    return ServingState(
        engine=engine,
        batcher=MicroBatcher(engine),
        policy=policy,
        model_ref={
            "name": card.name,
            "version": card.version,
            "alias": card.alias,
            "policy_version": policy.version,
        },
        model_info=json.dumps(info).encode(),
        openapi=json.dumps(build_openapi(card.version, auth, request)).encode(),
        request_model=request,
    )
