"""Which reason each contribution speaks for, and how much each reason moves a lead's score.

Contributions are summed per reason key (`activity:TYPE` or `feature:NAME`). The features over
all activities (counts, activity levels, active days, last activity) are sums, counts of days
or minima over the types, so their contribution is handed on to the types that make them up:
in proportion to each type's part of the count or level (of its count in the same window for
the active days), and to the most recent type for the last activity. A fresh demo request then
moves its own reason ("Requested a demo yesterday") instead of spreading over "Recent activity
level", "Active on 2 days" and "Last active today", and a lead's activity is never read as a
reason against it in the words of an all-activity figure ("Active on 2 days" lowering the score
of a lead who requested a demo). Rows without any activity in the window keep those keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from features.build import LeadFeaturizer
from features.info import (
    ACTIVE_DAYS,
    COUNT,
    DAYS_SINCE_LAST,
    DECAYED_COUNT,
    INTENT_MIX,
    INTENT_PEAK,
    OTHER_ACTIVITY,
    VELOCITY,
)
from features.intent import freshness

ENGAGEMENT = "engagement"
# Engagement over all activity types whose zero (or "never") is an absence: never a reason for
# a higher score.
ABSENCE_KINDS = frozenset(
    {COUNT, ACTIVE_DAYS, DAYS_SINCE_LAST, DECAYED_COUNT, INTENT_PEAK, INTENT_MIX}
)
# All-activity kinds handed on to the types, and the per-type kind whose values share it out.
_PART_KIND = {
    COUNT: COUNT,
    DECAYED_COUNT: DECAYED_COUNT,
    ACTIVE_DAYS: COUNT,
    DAYS_SINCE_LAST: DAYS_SINCE_LAST,
}


@dataclass(frozen=True)
class Handover:
    """An all-activity feature whose contribution goes to the activity types behind it."""

    feature: int  # position among the features
    key: int  # its own reason key
    type_keys: np.ndarray  # reason keys of the types
    type_columns: tuple[str, ...]  # per type, the feature with the same kind and window
    to_latest: bool  # the most recent type takes it all (days since the last activity)
    # The pooled intent features (`features.intent`): each type's learned lift. With a
    # half-life the strongest fresh type takes it all (the peak), else each type by the size
    # of its lift x share (the mix).
    lifts: np.ndarray | None = None
    half_life_days: float | None = None


@dataclass(frozen=True)
class ReasonIndex:
    """The distinct reason keys, each feature's key, the columns each key's words read, the
    rule its phrase must agree with (VELOCITY: the sign; COUNT: an absence is never positive),
    and the handovers of all-activity features."""

    keys: np.ndarray
    of_feature: np.ndarray
    inputs: list[tuple[str | None, ...]]
    columns: frozenset[str]
    rules: list[str | None]
    handovers: tuple[Handover, ...]

    @classmethod
    def of(
        cls,
        feature_keys: tuple[str, ...],
        counts: Mapping[str, str],
        lasts: Mapping[str, str],
        featurizer: LeadFeaturizer,
    ) -> ReasonIndex:
        keys, of_feature = np.unique(np.asarray(feature_keys), return_inverse=True)
        position = {k: i for i, k in enumerate(keys.tolist())}
        inputs: list[tuple[str | None, ...]] = []
        rules: list[str | None] = []
        for key in keys.tolist():
            kind, _, name = key.partition(":")
            rule = None
            if kind == "activity":
                inputs.append((counts.get(name), lasts.get(name)))
            else:
                inputs.append((name,))
                info = featurizer.feature_info_[name]
                if info.group == ENGAGEMENT and info.activity_type is None:
                    if info.kind == VELOCITY:
                        rule = VELOCITY
                    elif info.kind in ABSENCE_KINDS:
                        rule = COUNT
            rules.append(rule)
        handovers = _handovers(featurizer, position)
        columns = {name for names in inputs for name in names if name is not None}
        columns |= {c for h in handovers for c in h.type_columns}
        return cls(keys, of_feature, inputs, frozenset(columns), rules, handovers)

    def grouped(self, contrib: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per row and reason key, the summed contributions after the handovers."""
        grouped = np.zeros((contrib.shape[0], self.keys.size))
        np.add.at(grouped.T, self.of_feature, contrib.T)
        for h in self.handovers:
            part = contrib[:, h.feature]
            values = np.column_stack([np.asarray(columns[c], dtype=float) for c in h.type_columns])
            if h.to_latest or h.half_life_days is not None:
                if h.half_life_days is not None:
                    assert h.lifts is not None
                    strength = freshness(values, h.half_life_days) * np.maximum(h.lifts, 0.0)
                else:
                    strength = -np.where(np.isnan(values), np.inf, values)
                has = (strength > (0.0 if h.half_life_days is not None else -np.inf)).any(axis=1)
                share = np.zeros_like(values)
                share[np.flatnonzero(has), strength[has].argmax(axis=1)] = 1.0
            else:
                values = np.where(np.isnan(values), 0.0, np.maximum(values, 0.0))
                if h.lifts is not None:
                    values = np.abs(values * h.lifts)
                total = values.sum(axis=1)
                has = total > 0
                share = np.divide(
                    values, total[:, None], out=np.zeros_like(values), where=has[:, None]
                )
            moved = np.where(has, part, 0.0)
            grouped[:, h.key] -= moved
            np.add.at(grouped.T, h.type_keys, (share * moved[:, None]).T)
        return grouped

    def typical(self, typical: Mapping[str, float]) -> np.ndarray:
        """A typical lead's contribution per key (0 where the model recorded none)."""
        return np.array([typical.get(str(k), 0.0) for k in self.keys.tolist()])


def _handovers(featurizer: LeadFeaturizer, position: Mapping[str, int]) -> tuple[Handover, ...]:
    infos = [featurizer.feature_info_[n] for n in featurizer.feature_names_out_]
    out = []
    for i, info in enumerate(infos):
        if info.group != ENGAGEMENT or info.activity_type is not None:
            continue
        if info.kind in (INTENT_PEAK, INTENT_MIX):
            out.append(_intent_handover(featurizer, position, i, info.name, info.kind))
            continue
        part_kind = _PART_KIND.get(info.kind)
        if part_kind is None:
            continue
        parts = [
            (f"activity:{other.activity_type}", other.name)
            for other in infos
            if other.activity_type is not None
            and other.kind == part_kind
            and other.window_days == info.window_days
            and other.half_life_days == info.half_life_days
        ]
        parts = [(k, c) for k, c in parts if k in position]
        if not parts:
            continue
        out.append(
            Handover(
                feature=i,
                key=position[f"feature:{info.name}"],
                type_keys=np.array([position[k] for k, _ in parts], dtype=np.int64),
                type_columns=tuple(c for _, c in parts),
                to_latest=info.kind == DAYS_SINCE_LAST,
            )
        )
    return tuple(out)


def _intent_handover(
    featurizer: LeadFeaturizer, position: Mapping[str, int], feature: int, name: str, kind: str
) -> Handover:
    """The intent feature's contribution goes to the types behind it (`Handover.lifts`)."""
    lifts = featurizer.intent_lifts_ or {}
    types = [*featurizer.activity_types_, OTHER_ACTIVITY]
    recency_decayed, _ = featurizer.intent_inputs()
    column = 0 if kind == INTENT_PEAK else 1
    return Handover(
        feature=feature,
        key=position[f"feature:{name}"],
        type_keys=np.array([position[f"activity:{t}"] for t in types], dtype=np.int64),
        type_columns=tuple(pair[column] for pair in recency_decayed),
        to_latest=False,
        lifts=np.array([lifts[t] for t in types]),
        half_life_days=featurizer.intent_half_life() if kind == INTENT_PEAK else None,
    )


def typical_reasons(
    contrib: np.ndarray, columns: Mapping[str, np.ndarray], index: ReasonIndex
) -> dict[str, float]:
    """Per reason key, the median over the rows of `contrib` of the key's contribution."""
    grouped = index.grouped(contrib, columns)
    return dict(zip(index.keys.tolist(), np.median(grouped, axis=0).tolist(), strict=True))


__all__ = ["ABSENCE_KINDS", "OTHER_ACTIVITY", "ReasonIndex", "typical_reasons"]
