"""Exact tree SHAP for small trees, by table look-up: what LightGBM's `pred_contrib` computes.

Path-dependent tree SHAP (Lundberg et al. 2020; LightGBM's `pred_contrib`) gives each feature
its Shapley value in the game v(S) = the tree's output when the features in S follow the row
and the others average over both branches, weighted by the training rows that went each way.
That game, and so its Shapley values, depends on the row only through the direction the row
takes at each split of the tree (on or off its path). A tree of K splits has at most 2**K such
patterns, so with the default 7 leaves (6 splits, at most 6 features) every tree's Shapley
values fit in a table of 64 patterns, computed once from the tree. Explaining a row is then
evaluating its splits (vectorised over rows and trees) and adding table rows: about the cost
of a prediction, against tree SHAP's path recursion per row and tree (6-8x slower on the
service's 100-lead requests, docs/benchmarks.md). The numbers are LightGBM's up to rounding
(tests compare them).

Boosters with a tree of more than `MAX_SPLITS` splits are left to LightGBM (`from_booster`
returns None for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np

# 2**8 patterns x 2**8 feature subsets per split while building: still milliseconds per tree.
MAX_SPLITS = 8
# Rows explained at once: the per-row work arrays (splits, then trees x features) stay in cache;
# 20,000 rows at once took 4x longer than in chunks of 256-2,048.
CHUNK_ROWS = 1_024
# LightGBM's kZeroThreshold: |x| at most this counts as zero for zero-as-missing splits.
_ZERO = 1e-35
_MISSING_ZERO, _MISSING_NAN = "Zero", "NaN"  # LightGBM's missing_type names ("None": no missing)


@dataclass(frozen=True)
class _Split:
    feature: int
    categorical: bool
    threshold: float
    categories: frozenset[int]
    default_left: bool
    missing: str
    count: float


def _splits(node: dict[str, Any], out: list[_Split]) -> None:
    """The tree's splits in pre-order (the order the pattern bits follow)."""
    if "split_index" not in node:
        return
    categorical = node["decision_type"] == "=="
    out.append(
        _Split(
            feature=int(node["split_feature"]),
            categorical=categorical,
            threshold=np.nan if categorical else float(node["threshold"]),
            categories=(
                frozenset(int(c) for c in str(node["threshold"]).split("||"))
                if categorical
                else frozenset()
            ),
            default_left=bool(node["default_left"]),
            missing=str(node["missing_type"]),
            count=float(node["internal_count"]),
        )
    )
    _splits(node["left_child"], out)
    _splits(node["right_child"], out)


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _shapley_weights(m: int) -> np.ndarray:
    """W (m x 2**m) with phi = W @ v: Shapley values from a game's values on all subsets."""
    subsets = np.arange(2**m)
    sizes = np.array([bin(s).count("1") for s in subsets])
    weight = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    W = np.zeros((m, 2**m))
    for j in range(m):
        has = (subsets >> j) & 1 == 1
        W[j, has] = weight[sizes[has] - 1]
        W[j, ~has] = -weight[sizes[~has]]
    return W


def _tree_table(tree: dict[str, Any], splits: list[_Split]) -> tuple[np.ndarray, list[int], float]:
    """One tree's Shapley values per decision pattern (2**K x m), its features, and v(empty)."""
    k = len(splits)
    features = sorted({s.feature for s in splits})
    local = {f: i for i, f in enumerate(features)}
    m = len(features)
    patterns = np.arange(2**k)
    subsets = np.arange(2**m)[:, None]
    order = iter(range(k))

    def value(node: dict[str, Any]) -> np.ndarray:
        if "split_index" not in node:
            return np.full((2**m, 2**k), float(node["leaf_value"]))
        bit = next(order)
        split = splits[bit]
        left, right = node["left_child"], node["right_child"]
        v_left, v_right = value(left), value(right)
        goes_left = (patterns >> bit) & 1 == 1
        known = (subsets >> local[split.feature]) & 1 == 1
        follow = np.where(goes_left, v_left, v_right)
        average = (_count(left) * v_left + _count(right) * v_right) / split.count
        return np.where(known, follow, average)

    root = value(tree["tree_structure"])
    phi = _shapley_weights(m) @ root if m else np.zeros((0, 2**k))
    return phi.T, features, float(root[0, 0])


class TreeShapTable:
    """Tree SHAP contributions of a LightGBM booster's first `num_iteration` trees."""

    def __init__(self, model_dump: dict[str, Any], num_iteration: int) -> None:
        trees = model_dump["tree_info"][:num_iteration]
        self.n_features = int(model_dump["max_feature_idx"]) + 1
        per_tree = []
        for tree in trees:
            splits: list[_Split] = []
            _splits(tree["tree_structure"], splits)
            if len(splits) > MAX_SPLITS:
                raise ValueError(f"a tree has {len(splits)} splits; at most {MAX_SPLITS}")
            per_tree.append((splits, *_tree_table(tree, splits)))
        n_trees = len(per_tree)
        k_max = max((len(s) for s, *_ in per_tree), default=0)
        m_max = max((len(f) for _, _, f, _ in per_tree), default=0)
        self.bias = float(sum(b for *_, b in per_tree))
        # Padding: unused split slots never go left; unused feature slots add 0 to the bias.
        self.table = np.zeros((n_trees, 2**k_max, max(m_max, 1)))
        self.columns = np.full((n_trees, max(m_max, 1)), self.n_features, dtype=np.intp)
        # Slot k * n_trees + t is split k of tree t: pattern bit k of all trees is one slice.
        self.k_max = k_max
        slots: list[tuple[int, _Split]] = []
        for t, (splits, phi, features, _) in enumerate(per_tree):
            self.table[t, : phi.shape[0], : phi.shape[1]] = phi
            self.columns[t, : len(features)] = features
            slots += [(b * n_trees + t, s) for b, s in enumerate(splits)]
        self.n_trees = n_trees
        self.n_slots = k_max * n_trees
        numeric = [(i, s) for i, s in slots if not s.categorical]
        self.num_slot = np.array([i for i, _ in numeric], dtype=np.intp)
        self.num_feature = np.array([s.feature for _, s in numeric], dtype=np.intp)
        self.num_threshold = np.array([s.threshold for _, s in numeric])
        self.num_default_left = np.array([s.default_left for _, s in numeric], dtype=bool)
        self.num_nan_missing = np.array([s.missing == _MISSING_NAN for _, s in numeric], bool)
        self.num_zero_missing = np.array([s.missing == _MISSING_ZERO for _, s in numeric], bool)
        categorical = [(i, s) for i, s in slots if s.categorical]
        self.cat_slot = np.array([i for i, _ in categorical], dtype=np.intp)
        self.cat_feature = np.array([s.feature for _, s in categorical], dtype=np.intp)
        width = 1 + max((max(s.categories) for _, s in categorical), default=0)
        # Column `width` (out of range, negative or NaN codes) is never in a left set.
        self.cat_left = np.zeros((len(categorical), width + 1), dtype=bool)
        for row, (_, s) in enumerate(categorical):
            self.cat_left[row, sorted(s.categories)] = True
        self.cat_width = width
        self._cat_rows = np.arange(len(categorical))[None, :]
        self.trees = np.arange(n_trees)[None, :]

    @classmethod
    def from_booster(cls, booster: Any, num_iteration: int) -> TreeShapTable | None:
        """The table of the booster's trees, or None when a tree is too big to tabulate."""
        dump = booster.dump_model(num_iteration=num_iteration)
        if any(
            int(t.get("num_leaves", 1)) - 1 > MAX_SPLITS for t in dump["tree_info"][:num_iteration]
        ):
            return None
        return cls(dump, num_iteration)

    def goes_left(self, A: np.ndarray) -> np.ndarray:
        """(n rows x split slots): whether each row goes left at each split (LightGBM's rules)."""
        n = A.shape[0]
        left = np.zeros((n, self.n_slots), dtype=bool)
        if self.num_slot.size:
            x = A[:, self.num_feature]
            go = x <= self.num_threshold
            nan = np.isnan(x)
            if nan.any():
                # NaN takes the default side where it means missing, else it is read as 0.
                fill = np.where(
                    self.num_nan_missing, self.num_default_left, self.num_threshold >= 0
                )
                go = np.where(nan, fill, go)
            if self.num_zero_missing.any():
                # Zero (and NaN read as 0) is missing for zero-as-missing splits.
                zero = self.num_zero_missing & (np.abs(np.where(nan, 0.0, x)) <= _ZERO)
                go = np.where(zero, self.num_default_left, go)
            left[:, self.num_slot] = go
        if self.cat_slot.size:
            x = A[:, self.cat_feature]
            width = self.cat_width
            # LightGBM truncates codes toward zero (-0.5 is 0); NaN, negative and unseen codes
            # read column `width`, which no left set holds.
            codes = np.where((x > -1) & (x < width), x, width).astype(np.intp)
            left[:, self.cat_slot] = self.cat_left[self._cat_rows, codes]
        return left

    def contributions(self, A: np.ndarray) -> np.ndarray:
        """(n x features + 1): each feature's SHAP value per row, then the bias column."""
        if A.shape[0] <= CHUNK_ROWS:
            return self._contributions(A)
        return np.vstack(
            [self._contributions(A[i : i + CHUNK_ROWS]) for i in range(0, A.shape[0], CHUNK_ROWS)]
        )

    def _contributions(self, A: np.ndarray) -> np.ndarray:
        n = A.shape[0]
        left = self.goes_left(A).reshape(n, self.k_max, self.n_trees)
        pattern = np.zeros((n, self.n_trees), dtype=np.intp)
        for k in range(self.k_max):
            pattern |= left[:, k, :].astype(np.intp) << k
        values = self.table[self.trees, pattern]
        width = self.n_features + 1
        flat = (np.arange(n)[:, None, None] * width + self.columns[None]).ravel()
        sums: np.ndarray = np.bincount(flat, weights=values.ravel(), minlength=n * width)
        out = sums.reshape(n, width)
        out[:, -1] += self.bias
        return out
