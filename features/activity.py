"""Vectorised point-in-time activity statistics for many (lead, as_of) snapshots at once.

Activities are sorted by (lead, time) once; each snapshot then owns the index range
``[lead start, hi)`` of its lead's activities strictly before ``as_of``, and each look-back
window boundary is another position in that range. Positions come from one `searchsorted` on
a composite (lead, time rank) key, so there is no loop over snapshots or leads. Windowed
counts are differences of per-type cumulative sums at those positions; the last activity of a
type is found through the same cumulative sums; decayed counts are exact segment sums of
``0.5 ** (age / half_life)`` over (snapshot, activity) pairs, done in bounded chunks.

Ties in time never matter: activities at the same instant get the same age, so any order among
them yields bit-identical results, which keeps one lead alone equal to that lead in a batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.info import ACTIVE_DAYS, COUNT, DAYS_SINCE_LAST, DECAYED_COUNT, SHARE, VELOCITY

NS_PER_DAY = 86_400 * 10**9
# Bounds memory of the (snapshot, activity) pairs used for decayed counts (~100 MB per chunk).
MAX_PAIRS_PER_CHUNK = 1 << 21


# A statistic: (kind from features.info, type column, window or half-life days or None).
StatKey = tuple[str, int, float | None]


def stats_layout(
    n_types: int,
    windows_days: Sequence[float],
    half_lives_days: Sequence[float],
    active_window_days: float,
    recent_days: float,
    share_half_lives_days: Sequence[float] = (),
) -> dict[StatKey, int]:
    """Column of each statistic in `ActivityStats.matrix`.

    Type columns are ``0..n_types-1`` for type codes and ``n_types`` for all activities. Per
    type column the block is: a count per window, the all-time count, days since the last one,
    a decayed count per half-life, a share of the decayed count of all activities per share
    half-life (1 or 0 for the all-activities column). After all blocks: active days (all time,
    then the active window) and velocity, over all activities.
    """
    per_type: list[tuple[str, float | None]] = [
        *((COUNT, w) for w in windows_days),
        (COUNT, None),
        (DAYS_SINCE_LAST, None),
        *((DECAYED_COUNT, h) for h in half_lives_days),
        *((SHARE, h) for h in share_half_lives_days),
    ]
    layout = {
        (kind, col, param): col * len(per_type) + i
        for col in range(n_types + 1)
        for i, (kind, param) in enumerate(per_type)
    }
    end = (n_types + 1) * len(per_type)
    layout[(ACTIVE_DAYS, n_types, None)] = end
    layout[(ACTIVE_DAYS, n_types, active_window_days)] = end + 1
    layout[(VELOCITY, n_types, recent_days)] = end + 2
    return layout


@dataclass(frozen=True)
class ActivityStats:
    """Per-snapshot activity statistics: one row per snapshot, columns as in `stats_layout`."""

    matrix: np.ndarray

    def get(self, layout: dict[StatKey, int], key: StatKey) -> np.ndarray:
        """One statistic for every snapshot."""
        return self.matrix[:, layout[key]]


def _offset_ns(days: float) -> int:
    return round(days * NS_PER_DAY)


def _chunks(lengths: np.ndarray, max_pairs: int) -> list[tuple[int, int]]:
    """Consecutive snapshot ranges of at most max_pairs pairs each (or of one snapshot)."""
    total = int(lengths.sum())
    if total <= max_pairs:
        return [(0, len(lengths))]
    ends = np.cumsum(lengths)
    bounds = [0]
    while bounds[-1] < len(lengths):
        start = bounds[-1]
        before = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, before + max_pairs, side="right"))
        bounds.append(max(stop, start + 1))
    return list(itertools.pairwise(bounds))


def activity_stats(
    act_lead: np.ndarray,
    act_time: np.ndarray,
    act_type: np.ndarray,
    n_types: int,
    snap_lead: np.ndarray,
    snap_time: np.ndarray,
    n_leads: int,
    windows_days: Sequence[float],
    half_lives_days: Sequence[float],
    active_window_days: float,
    velocity_days: tuple[float, float],
    max_pairs: int = MAX_PAIRS_PER_CHUNK,
    share_half_lives_days: Sequence[float] = (),
) -> ActivityStats:
    """Statistics of activities strictly before each snapshot's time.

    Leads are codes ``0..n_leads-1``, times int64 nanoseconds, activity types codes
    ``0..n_types-1``. A window of w days counts activities with ``as_of - w <= t < as_of``.
    Each share half-life must be one of `half_lives_days`.
    """
    share_of = [list(half_lives_days).index(h) for h in share_half_lives_days]
    n_snaps, n_acts = len(snap_lead), len(act_lead)
    act_lead = act_lead.astype(np.int64, copy=False)
    snap_lead = snap_lead.astype(np.int64, copy=False)
    recent_days, reference_days = velocity_days
    boundaries = sorted({*windows_days, active_window_days, recent_days, reference_days})
    offsets = np.array([0, *(_offset_ns(d) for d in boundaries)], dtype=np.int64)
    queries = snap_time[:, None] - offsets[None, :]

    # Ranks of all instants make (lead, time) one monotone int64 key. (np.unique is slower.)
    stamps = np.concatenate([act_time, queries.ravel()])
    by_time = np.argsort(stamps)
    ordered = stamps[by_time]
    distinct = np.ones(len(stamps), dtype=bool)
    distinct[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty(len(stamps), dtype=np.int64)
    rank[by_time] = np.cumsum(distinct) - 1
    n_instants = max(int(distinct.sum()), 1)
    if n_leads * n_instants >= 2**62:
        raise ValueError("too many leads and distinct instants for one batch; split the batch")
    act_key = act_lead * n_instants + rank[:n_acts]
    order = np.argsort(act_key)
    key = act_key[order]
    time = act_time[order]
    kind = act_type[order].astype(np.int64, copy=False)
    lead = act_lead[order]

    lead_start = np.searchsorted(key, np.arange(n_leads, dtype=np.int64) * n_instants)
    start = lead_start[snap_lead]
    query_key = (snap_lead[:, None] * n_instants + rank[n_acts:].reshape(queries.shape)).ravel()
    # Sorted queries make searchsorted walk the keys in order: ~10x faster than random ones.
    by_query = np.argsort(query_key)
    pos: np.ndarray = np.empty(len(query_key), dtype=np.int64)
    pos[by_query] = np.searchsorted(key, query_key[by_query])
    pos = pos.reshape(queries.shape)
    hi = pos[:, 0]
    boundary_pos = {d: pos[:, i + 1] for i, d in enumerate(boundaries)}

    n_windows, n_half_lives = len(windows_days), len(half_lives_days)
    width = n_windows + 2 + n_half_lives + len(share_of)
    matrix = np.empty((n_snaps, (n_types + 1) * width + 3))
    # Views into matrix: per_type[:, type column, statistic].
    per_type = matrix[:, : (n_types + 1) * width].reshape(n_snaps, n_types + 1, width)
    counts = per_type[:, :, : n_windows + 1]
    days_since_last = per_type[:, :, n_windows + 1]
    days_since_last[:] = np.nan

    # Columns: hi, one start position per window, the lead's first activity; a count is hi
    # minus a column, so all windows of one type come from one gather.
    bounds = np.column_stack([hi, *(boundary_pos[w] for w in windows_days), start])
    cum_dtype = np.int32 if n_acts < 2**31 - 1 else np.int64
    cumulative: np.ndarray = np.zeros(n_acts + 1, dtype=cum_dtype)
    for code in range(n_types):
        is_type = kind == code
        np.cumsum(is_type, out=cumulative[1:])
        at = cumulative[bounds]
        counts[:, code, :] = at[:, :1] - at[:, 1:]
        seen = at[:, 0] > at[:, -1]
        if seen.any():
            last = np.flatnonzero(is_type)[at[seen, 0] - 1]
            days_since_last[seen, code] = (snap_time[seen] - time[last]) / NS_PER_DAY
    counts[:, n_types, :] = bounds[:, :1] - bounds[:, 1:]
    seen = hi > start
    days_since_last[seen, n_types] = (snap_time[seen] - time[hi[seen] - 1]) / NS_PER_DAY

    # Distinct UTC calendar days: count day changes along each lead's sorted activities.
    day = np.floor_divide(time, NS_PER_DAY)
    new_day = np.ones(n_acts, dtype=bool)
    new_day[1:] = (day[1:] != day[:-1]) | (lead[1:] != lead[:-1])
    days_upto: np.ndarray = np.zeros(n_acts + 1, dtype=cum_dtype)
    np.cumsum(new_day, out=days_upto[1:])
    window_start = boundary_pos[active_window_days]
    in_window = hi > window_start
    after_first = np.minimum(window_start + 1, n_acts)
    end = (n_types + 1) * width
    matrix[:, end] = days_upto[hi] - days_upto[start]
    matrix[:, end + 1] = np.where(in_window, days_upto[hi] - days_upto[after_first] + 1, 0)

    recent = (hi - boundary_pos[recent_days]) / recent_days
    earlier = (boundary_pos[recent_days] - boundary_pos[reference_days]) / (
        reference_days - recent_days
    )
    rate_sum = recent + earlier
    matrix[:, end + 2] = np.divide(
        recent - earlier, rate_sum, out=np.zeros(n_snaps), where=rate_sum > 0
    )

    lengths = hi - start
    for first, stop in _chunks(lengths, max_pairs):
        n_chunk = stop - first
        chunk_len = lengths[first:stop]
        pair_snap = np.repeat(np.arange(n_chunk, dtype=np.int64), chunk_len)
        offsets_in = np.arange(len(pair_snap), dtype=np.int64) - np.repeat(
            np.cumsum(chunk_len) - chunk_len, chunk_len
        )
        pair_act = np.repeat(start[first:stop], chunk_len) + offsets_in
        age_days = (snap_time[first:stop][pair_snap] - time[pair_act]) / NS_PER_DAY
        bins = pair_snap * n_types + kind[pair_act]
        for j, h in enumerate(half_lives_days):
            weight = np.exp2(-age_days / h)
            by_type = np.bincount(bins, weights=weight, minlength=n_chunk * n_types)
            decayed = per_type[first:stop, :, n_windows + 2 + j]
            decayed[:, :n_types] = by_type.reshape(n_chunk, n_types)
            decayed[:, n_types] = np.bincount(pair_snap, weights=weight, minlength=n_chunk)

    # One fresh act of a lead that did little else lately is most of its recent activity; the
    # same act amid a burst of visits is a small part of it (see features.build).
    for k, j in enumerate(share_of):
        decayed = per_type[:, :, n_windows + 2 + j]
        total = decayed[:, n_types:]
        per_type[:, :, n_windows + 2 + n_half_lives + k] = np.divide(
            decayed, total, out=np.zeros_like(decayed), where=total > 0
        )
    return ActivityStats(matrix)
