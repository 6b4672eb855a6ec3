"""`utc_naive_datetime`: the contract's time rule on one stdlib datetime, without pandas.

Its own module so that what validates requests can import it without pandas: BentoML's
supervisor imports the service's request schemas (docs/benchmarks.md, "Moved").
`features.contract.utc_naive` is the implementation of the rule; this is a thin adapter,
re-exported there, and tests/features/test_contract.py checks that they agree.
"""

from __future__ import annotations

from datetime import datetime


def utc_naive_datetime(value: datetime) -> datetime:
    """`utc_naive` on one stdlib datetime, kept a datetime and without pandas.

    Adapter for the service, which validates every request's timestamps with it (a tenth of
    the time of building a pandas Timestamp).
    """
    offset = value.utcoffset()
    if offset is None:
        return value
    return (value - offset).replace(tzinfo=None) if offset else value.replace(tzinfo=None)
