"""UTC helpers. LiteLLM stores UTC in ``timestamp without time zone`` (compared with naive UTC
values); the warehouse uses ``timestamptz`` (compared with aware ones)."""

from __future__ import annotations

from datetime import UTC, datetime


def naive_utc(ts: datetime) -> datetime:
    """``ts`` as naive UTC (a naive ``ts`` is taken to be UTC already)."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo is not None else ts


def aware_utc(ts: datetime) -> datetime:
    """``ts`` as aware UTC (a naive ``ts`` is taken to be UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
