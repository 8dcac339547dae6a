"""Pure time arithmetic for range queries: point counts, the split under Prometheus's point limit, windows.

Conventions: a landing window is half-open ``[start, end)`` on whole hours; a query with step ``s``
is evaluated at ``start, start + s, ..., end - s`` so that each point belongs to exactly one hourly
partition and adjacent windows never both hold the boundary point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Prometheus refuses a query_range whose (end - start) / step exceeds 11,000
# (web/api/v1/api.go: "exceeded maximum resolution of 11,000 points per timeseries").
# We keep every call at or below 11,000 points, one under what the server would accept.
MAX_POINTS_PER_SERIES = 11_000
# a landing transaction covers at most this span (a day: 1,440 points per series at a 60 s step)
MAX_LANDING_WINDOW = timedelta(hours=24)
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:00"


@dataclass(frozen=True)
class QueryRange:
    """One ``query_range`` call: evaluate at ``start, start + step, ..., last`` (both ends included)."""

    start: datetime
    last: datetime
    step_seconds: int

    @property
    def points(self) -> int:
        return points_between(self.start, self.last, self.step_seconds)


def points_between(start: datetime, last: datetime, step_seconds: int) -> int:
    """Evaluation points of a query_range from ``start`` to ``last`` inclusive."""
    if last < start:
        return 0
    return int((last - start).total_seconds()) // step_seconds + 1


def plan_query_ranges(
    start: datetime, end: datetime, step_seconds: int, max_points: int = MAX_POINTS_PER_SERIES
) -> list[QueryRange]:
    """Split the half-open window ``[start, end)`` into calls of at most ``max_points`` points each.

    The step is the catalog's (never coarsened, so every partition has the same grain); a wide
    window (a long single-run backfill, or a 1 s step) becomes several consecutive calls instead.
    """
    if step_seconds <= 0:
        raise ValueError(f"step must be positive, got {step_seconds}")
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    span = int((end - start).total_seconds())
    if span <= 0:
        return []
    if span % step_seconds:
        raise ValueError(
            f"window {start.isoformat()}..{end.isoformat()} is not a whole number of {step_seconds}s steps"
        )
    total = span // step_seconds
    step = timedelta(seconds=step_seconds)
    ranges = []
    for first in range(0, total, max_points):
        count = min(max_points, total - first)
        ranges.append(QueryRange(start + first * step, start + (first + count - 1) * step, step_seconds))
    return ranges


def landing_windows(
    start: datetime, end: datetime, max_window: timedelta = MAX_LANDING_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Consecutive ``[a, b)`` windows covering ``[start, end)``, each at most ``max_window`` long."""
    windows = []
    cursor = start
    while cursor < end:
        nxt = min(cursor + max_window, end)
        windows.append((cursor, nxt))
        cursor = nxt
    return windows


def require_whole_hours(start: datetime, end: datetime) -> None:
    for label, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValueError(f"window {label} {value.isoformat()} has no time zone")
        if value.minute or value.second or value.microsecond:
            raise ValueError(f"window {label} {value.isoformat()} is not on a whole hour")
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} is not after start {start.isoformat()}")


def partition_key_for(ts: datetime) -> str:
    """The hourly partition key (``YYYY-MM-DD-HH:00``, UTC) that holds ``ts``."""
    return ts.astimezone(UTC).strftime(PARTITION_KEY_FORMAT)
