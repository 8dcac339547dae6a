"""The live path's decision: which hourly partitions need landing now (the sensor turns it into a run).

Database source. The warehouse's watermark W is the largest source change time
(``greatest(created_at, updated_at)``) at or below which every row is landed; it moves only in
the transaction that lands the rows. Each tick asks LiteLLM for the startTime hours of rows
changed after ``W - lookback`` (one scan; LiteLLM has no index on created_at). An hour needs a run
when it holds a row changed after W, or when LiteLLM has more rows in it than the warehouse landed
and rejected (a row committed late with a change time below W: what the lookback exists for).
LiteLLM writes a long request when it ends, with its old startTime and a fresh created_at, so its
hour is found however old it is.

API source (no created_at). Each tick compares, for the trailing ``api_trailing_hours`` hours,
the endpoint's row count with the warehouse's; an hour whose counts differ needs a run.

One run covers the range from the first to the last hour needing one (single-run backfill policy).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from benchmark_pipeline.defs.litellm.landing import partition_key, read_watermark, warehouse_counts
from benchmark_pipeline.defs.litellm.settings import IngestSettings
from benchmark_pipeline.defs.litellm.source_api import ApiSource
from benchmark_pipeline.defs.litellm.source_db import DatabaseSource
from benchmark_pipeline.utc import naive_utc

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LivePlan:
    first_hour: datetime  # naive UTC
    last_hour: datetime
    key: str  # stable for the same need: the sensor's run_key (plus a retry suffix)
    reason: str  # one line for the run's tags and the tick log

    @property
    def first_partition(self) -> str:
        return partition_key(self.first_hour)

    @property
    def last_partition(self) -> str:
        return partition_key(self.last_hour)


@dataclass(frozen=True)
class Skip:
    reason: str


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:12]


def _clamp(
    needed: list[datetime], landable: tuple[datetime, datetime]
) -> tuple[list[datetime], list[datetime]]:
    """(hours that are partitions, hours outside the partition range)."""
    lo, hi = landable
    inside = [h for h in needed if lo <= h < hi]
    return inside, [h for h in needed if not lo <= h < hi]


def plan_database(
    source: DatabaseSource,
    warehouse_url: str,
    settings: IngestSettings,
    landable: tuple[datetime, datetime],
) -> LivePlan | Skip:
    lookback = timedelta(seconds=settings.lookback_seconds)
    watermark = _read_watermark(warehouse_url)
    with source:
        changed = source.changed_hours(watermark, lookback, timedelta(hours=settings.max_age_hours))
        if not changed:
            return Skip(
                f"no LiteLLM rows changed since {_ts(watermark)} - {settings.lookback_seconds} s lookback"
            )
        first, last = changed[0].hour, changed[-1].hour
        source_counts = source.hourly_counts(first, last + HOUR)
    landed = warehouse_counts(warehouse_url, first, last + HOUR)
    needed = []
    for c in changed:
        counts = landed.get(c.hour)
        behind = counts is None or source_counts.get(c.hour, 0) > counts.total
        if c.new_rows > 0 or behind:
            needed.append(c.hour)
    needed, outside = _clamp(needed, landable)
    observed = max(c.max_changed for c in changed)
    note = f"; {len(outside)} hours outside the partition range ignored" if outside else ""
    if not needed:
        return Skip(
            f"all {len(changed)} hours with rows changed since {_ts(watermark)} - lookback are landed "
            f"(watermark {_ts(watermark)}){note}"
        )
    new_rows = sum(c.new_rows for c in changed if c.hour in needed)
    return LivePlan(
        needed[0],
        needed[-1],
        f"live:{partition_key(needed[0])}..{partition_key(needed[-1])}:{_digest(watermark, observed)}",
        f"{new_rows} rows changed after watermark {_ts(watermark)} in {len(needed)} hours "
        f"(latest change {_ts(observed)}){note}",
    )


def plan_api(
    source: ApiSource,
    warehouse_url: str,
    settings: IngestSettings,
    landable: tuple[datetime, datetime],
    now: datetime,
) -> LivePlan | Skip:
    current = naive_utc(now).replace(minute=0, second=0, microsecond=0)
    trailing = [current - HOUR * i for i in range(settings.api_trailing_hours - 1, -1, -1)]
    trailing, _ = _clamp(trailing, landable)
    if not trailing:
        return Skip("the trailing window lies outside the partition range")
    landed = warehouse_counts(warehouse_url, trailing[0], trailing[-1] + HOUR)
    needed, signature = [], []
    with source:
        for hour in trailing:
            total, capped = source.count_hour(hour)
            # the endpoint counts both bounds: compare like with like (rows at hour+1h exactly are rare)
            mine = landed[hour].total
            signature.append((hour, total))
            if capped or total != mine:
                needed.append(hour)
    if not needed:
        return Skip(f"the last {len(trailing)} hours hold as many rows in LiteLLM as in the warehouse")
    return LivePlan(
        needed[0],
        needed[-1],
        f"api:{partition_key(needed[0])}..{partition_key(needed[-1])}:{_digest(*signature)}",
        f"row counts differ from LiteLLM's API in {len(needed)} of the last {len(trailing)} hours",
    )


def _read_watermark(warehouse_url: str) -> datetime | None:
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        return read_watermark(conn)


def _ts(ts: datetime | None) -> str:
    return "the beginning" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


__all__ = ["LivePlan", "Skip", "plan_api", "plan_database"]
