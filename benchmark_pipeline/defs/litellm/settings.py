"""Ingestion settings, read from the environment when a run or tick starts (never at import time).

| variable | default | meaning |
|---|---|---|
| ``BENCHMARK_INGEST_LOOKBACK_SECONDS`` | 600 | live path: re-read rows whose ``created_at``/``updated_at`` lies up to this far before the watermark |
| ``BENCHMARK_INGEST_API_TRAILING_HOURS`` | 3 | API source (no ``created_at``): hours of ``startTime`` the live sensor re-checks |
| ``BENCHMARK_INGEST_SCHEDULE_HOURS`` | 3 | late-data schedule: complete hours re-landed before the current one |
| ``BENCHMARK_INGEST_MAX_AGE_HOURS`` | 24 | a row is written at most this long after its ``startTime``: bounds the live path's scans of LiteLLM's table |
| ``BENCHMARK_INGEST_PAGE_ROWS`` | 25000 | rows per keyset page (one COPY + one merge each) |
| ``BENCHMARK_INGEST_FRESHNESS_SECONDS`` | 900 | freshness check: largest tolerated lag of the live path |
| ``BENCHMARK_SESSION_GRACE_SECONDS`` | 900 | finalized-sessions sensor: hours covered after a session's end |
| ``BENCHMARK_SESSION_SETTLE_SECONDS`` | 120 | finalized-sessions sensor: wait this long after a session ends |

Why a 600 s lookback: the watermark is a source timestamp, and a row can become visible with a
change time older than rows already landed. LiteLLM queues spend-log rows and writes them in
batches (``PROXY_BATCH_WRITE_AT`` = 10 s by default; the design notes observed rows arriving
"seconds to a minute" after the request ended), and ``created_at`` (Prisma's ``@default(now())``)
is taken before the batch commits. So a row can appear up to about a minute after its
``created_at``; 600 s is ten times that, and re-checking it costs one count per hour concerned.
Long requests do not need the lookback at all: LiteLLM writes a request when it ends, with its old
``startTime`` and a fresh ``created_at``, and the sensor finds its hour from that. The API source
has no ``created_at``, so it compares per-hour counts over a trailing ``startTime`` window
instead: 3 hours covers LiteLLM's longest default request (``request_timeout`` 6000 s = 100 min)
plus batching, rounded up to whole partitions.

Why a 24 h maximum age: LiteLLM has no index on ``created_at``, so "rows changed since X" would
read its whole table every 30 s. A row is written when its request ends (100 min at most by
default), or, if LiteLLM's database was unreachable, when LiteLLM's in-memory queue is flushed
after it returns; 24 h covers both with room to spare while keeping each scan to one day of rows
(an index range on ``startTime``). Rows written later than that are still landed by a backfill of
their hours (``docs/operations.md``, Backfills).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmark_pipeline.defs.litellm.errors import IngestSettingsError

DEFAULTS = {
    "BENCHMARK_INGEST_LOOKBACK_SECONDS": 600,
    "BENCHMARK_INGEST_API_TRAILING_HOURS": 3,
    "BENCHMARK_INGEST_SCHEDULE_HOURS": 3,
    "BENCHMARK_INGEST_MAX_AGE_HOURS": 24,
    "BENCHMARK_INGEST_PAGE_ROWS": 25_000,
    "BENCHMARK_INGEST_FRESHNESS_SECONDS": 900,
    "BENCHMARK_SESSION_GRACE_SECONDS": 900,
    "BENCHMARK_SESSION_SETTLE_SECONDS": 120,
}
MINIMUMS = {
    "BENCHMARK_INGEST_PAGE_ROWS": 1,
    "BENCHMARK_INGEST_API_TRAILING_HOURS": 1,
    "BENCHMARK_INGEST_MAX_AGE_HOURS": 1,
}


def _int(name: str) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return DEFAULTS[name]
    try:
        value = int(raw.strip())
    except ValueError:
        raise IngestSettingsError(
            f"environment variable {name}={raw!r} is not a whole number",
            hint=f"unset it to use the default ({DEFAULTS[name]})",
        ) from None
    if value < MINIMUMS.get(name, 0):
        raise IngestSettingsError(
            f"environment variable {name}={value} is below its minimum {MINIMUMS.get(name, 0)}",
            hint=f"unset it to use the default ({DEFAULTS[name]})",
        )
    return value


@dataclass(frozen=True)
class IngestSettings:
    lookback_seconds: int = DEFAULTS["BENCHMARK_INGEST_LOOKBACK_SECONDS"]
    api_trailing_hours: int = DEFAULTS["BENCHMARK_INGEST_API_TRAILING_HOURS"]
    schedule_hours: int = DEFAULTS["BENCHMARK_INGEST_SCHEDULE_HOURS"]
    max_age_hours: int = DEFAULTS["BENCHMARK_INGEST_MAX_AGE_HOURS"]
    page_rows: int = DEFAULTS["BENCHMARK_INGEST_PAGE_ROWS"]
    freshness_seconds: int = DEFAULTS["BENCHMARK_INGEST_FRESHNESS_SECONDS"]
    session_grace_seconds: int = DEFAULTS["BENCHMARK_SESSION_GRACE_SECONDS"]
    session_settle_seconds: int = DEFAULTS["BENCHMARK_SESSION_SETTLE_SECONDS"]

    @classmethod
    def from_env(cls) -> IngestSettings:
        return cls(
            lookback_seconds=_int("BENCHMARK_INGEST_LOOKBACK_SECONDS"),
            api_trailing_hours=_int("BENCHMARK_INGEST_API_TRAILING_HOURS"),
            schedule_hours=_int("BENCHMARK_INGEST_SCHEDULE_HOURS"),
            max_age_hours=_int("BENCHMARK_INGEST_MAX_AGE_HOURS"),
            page_rows=_int("BENCHMARK_INGEST_PAGE_ROWS"),
            freshness_seconds=_int("BENCHMARK_INGEST_FRESHNESS_SECONDS"),
            session_grace_seconds=_int("BENCHMARK_SESSION_GRACE_SECONDS"),
            session_settle_seconds=_int("BENCHMARK_SESSION_SETTLE_SECONDS"),
        )
