"""The tier policy: where SQL (call now), MQL (keep nurturing in marketing) and nurture begin."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SQL = "SQL"
MQL = "MQL"
NURTURE = "nurture"
TIERS = (SQL, MQL, NURTURE)


@dataclass(frozen=True)
class TierPolicy:
    """Probability thresholds for SQL and MQL, with where they came from."""

    sql_threshold: float
    mql_threshold: float
    version: str = "1"
    basis: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.mql_threshold <= self.sql_threshold <= 1.0:
            raise ValueError(
                "need 0 <= mql_threshold <= sql_threshold <= 1, got "
                f"mql={self.mql_threshold}, sql={self.sql_threshold}"
            )

    @classmethod
    def from_shares(
        cls,
        probabilities: np.ndarray,
        sql_share: float = 0.05,
        mql_share: float = 0.15,
        version: str = "1",
    ) -> TierPolicy:
        """SQL = top `sql_share` of `probabilities`, MQL = the next `mql_share`."""
        if not (sql_share > 0 and mql_share >= 0 and sql_share + mql_share <= 1):
            raise ValueError("shares must be positive and add up to at most 1")
        p = np.asarray(probabilities, dtype=float)
        sql = float(np.quantile(p, 1 - sql_share))
        mql = float(np.quantile(p, 1 - sql_share - mql_share))
        return cls(
            sql_threshold=sql,
            mql_threshold=min(mql, sql),
            version=version,
            basis={"sql_share": sql_share, "mql_share": mql_share, "n": int(p.size)},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TierPolicy:
        return cls(
            sql_threshold=float(data["sql_threshold"]),
            mql_threshold=float(data["mql_threshold"]),
            version=str(data.get("version", "1")),
            basis=dict(data.get("basis", {})),
        )


def assign_tier(probabilities: np.ndarray, policy: TierPolicy) -> np.ndarray:
    """SQL at or above the SQL threshold, MQL at or above the MQL threshold, else nurture."""
    p = np.asarray(probabilities, dtype=float)
    return np.where(
        p >= policy.sql_threshold, SQL, np.where(p >= policy.mql_threshold, MQL, NURTURE)
    ).astype(object)
