"""Land one window of spend logs into ``raw.litellm_spend_logs`` (+ ``_rejected``), atomically.

Per window (a single partition or a backfill's whole range):

1. ``raw_tables.sql`` is applied (idempotent) and a temporary stage table is created.
2. One warehouse transaction, serialised with other landings by an advisory lock:
   the window's rejected rows are deleted (a replay re-inserts them: stable counts); then for every
   source page: COPY into the stage, insert the page's malformed rows into ``_rejected`` with their
   reason, upsert the rest on ``request_id`` (a row whose payload is unchanged is not touched, so
   ``_ingested_at`` keeps its value and dbt's incremental models do not reprocess replays);
   finally the watermark moves, in the same transaction as the rows it covers. When the window
   holds no landed row yet, the database source lands each page's clean rows directly instead
   (one COPY into the landing table, see :mod:`source_db`) and only the rest go through the stage.
3. Commit. A failure anywhere (source down mid-read included) rolls everything back: nothing of
   the run is landed and the watermark is unchanged, so the next run re-reads the same window.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg

from benchmark_pipeline.defs.litellm import statements as st
from benchmark_pipeline.defs.litellm.source_db import Page, ReadSummary, Window
from benchmark_pipeline.utc import aware_utc, naive_utc

SQL_DIR = Path(__file__).parent / "sql"
RAW_TABLES_SQL = SQL_DIR / "raw_tables.sql"
WATERMARK_NAME = "litellm_spend_logs"
LOCK_SQL = "select pg_advisory_xact_lock(hashtext('harness_bench.raw.litellm_spend_logs'))"
# the stage of one page (50k rows x ~2.2 kB) stays in memory instead of spilling to temp files
TEMP_BUFFERS = "256MB"
PARTITION_FORMAT = "%Y-%m-%d-%H:00"


class SpendLogSource(Protocol):
    name: str
    rows_read: int

    def describe(self) -> str: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> None: ...
    def pages(self, window: Window) -> Generator[Page, None, None]: ...
    def summary(self) -> ReadSummary: ...


@dataclass
class LandingResult:
    source: str
    window_start: datetime
    window_end: datetime
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    screened_rows: int = 0  # rows the SQL screen sent through the redaction functions
    superseded: int = 0  # landed earlier, malformed now: moved to _rejected
    pages: int = 0
    screened_pages: int = 0  # pages the relay's screen flagged (their rows went through the SQL screen)
    direct_rows: int = 0  # rows a direct page COPYed into the landing table (no stage, no merge)
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    source_counts: dict[datetime, int] = field(default_factory=dict)  # naive UTC hour -> rows
    seconds: float = 0.0
    wait_seconds: float = 0.0  # waiting for the source's next page
    stage_seconds: float = 0.0  # copying a page into the stage, or a direct page into the table
    merge_seconds: float = 0.0  # rejected rows + upsert

    @property
    def unchanged(self) -> int:
        return self.fetched - self.inserted - self.updated - self.rejected


def partition_key(hour: datetime) -> str:
    return hour.strftime(PARTITION_FORMAT)


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Naive UTC hours h with start <= h < end (start is aligned down to the hour)."""
    h = naive_utc(start).replace(minute=0, second=0, microsecond=0)
    out = []
    while h < naive_utc(end):
        out.append(h)
        h += timedelta(hours=1)
    return out


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the landing tables and functions if missing (serialised: concurrent DDL would clash)."""
    with conn.transaction():
        conn.execute(LOCK_SQL)
        conn.execute(RAW_TABLES_SQL.read_text())


def read_watermark(conn: psycopg.Connection, *, lock: bool = False) -> datetime | None:
    exists = conn.execute("select to_regclass('raw.ingestion_watermarks') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(
        "select watermark from raw.ingestion_watermarks where source_name = %s"
        + (" for update" if lock else ""),
        (WATERMARK_NAME,),
    ).fetchone()
    return row[0] if row else None


def land_window(
    warehouse_url: str,
    source: SpendLogSource,
    start: datetime,
    end: datetime,
    *,
    landable: tuple[datetime, datetime],
    max_age: timedelta = timedelta(hours=24),
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
) -> LandingResult:
    """Land ``start <= startTime < end`` from ``source``; see the module docstring."""
    began = time.monotonic()
    result = LandingResult(source=source.name, window_start=start, window_end=end)
    keys = [partition_key(h) for h in hours(start, end)]
    params = {
        "source": source.name,
        "fallback_partition": keys[0] if keys else partition_key(naive_utc(start)),
    }
    statements = _Statements(st.upsert_sql(), st.upsert_sql(new_rows_only=True), st.insert_rejected_sql())
    # binary COPY carries text in the client encoding: UTF-8 on both ends (DatabaseSource sets it too)
    with psycopg.connect(warehouse_url, autocommit=True, client_encoding="UTF8") as wh:
        wh.execute(f"set temp_buffers = '{TEMP_BUFFERS}'")
        ensure_tables(wh)
        wh.execute(st.stage_ddl())
        with source, wh.transaction():
            wh.execute(LOCK_SQL)
            result.watermark_before = read_watermark(wh, lock=True)
            wh.execute("delete from raw.litellm_spend_logs_rejected where partition_key = any(%s)", (keys,))
            (landed_before,) = wh.execute(  # type: ignore[misc]
                "select exists (select 1 from raw.litellm_spend_logs where start_time >= %s and start_time < %s)",
                (aware_utc(start), aware_utc(end)),
            ).fetchone()
            window = Window(start, end, result.watermark_before, landable, max_age, not landed_before)
            pages = source.pages(window)
            try:
                while True:
                    waited = time.monotonic()
                    page = next(pages, None)  # the reader thread has usually fetched it already
                    result.wait_seconds += time.monotonic() - waited
                    if page is None:
                        break
                    wh.execute(f"truncate {st.STAGE}")
                    t0 = time.monotonic()
                    staged = page.copy_into(wh)  # a direct page lands its clean rows here
                    t1 = time.monotonic()
                    result.stage_seconds += t1 - t0
                    result.pages += 1
                    result.fetched += staged.rows + staged.landed
                    result.inserted += staged.landed
                    result.direct_rows += staged.landed
                    if staged.rows:
                        _merge_page(wh, statements, {**params, "screen": staged.screen}, result)
                    result.merge_seconds += time.monotonic() - t1
                    if log is not None:
                        log(
                            f"page {page.number}: {staged.landed} rows landed directly, {staged.rows} staged; "
                            f"so far {result.inserted} new, "
                            f"{result.updated} updated, {result.rejected} rejected"
                        )
            finally:
                pages.close()  # stops the reader thread at once if a merge failed
            summary = source.summary()
            result.source_counts = summary.hourly_counts
            watermark = summary.watermark
            if watermark is not None and (
                result.watermark_before is None or watermark > result.watermark_before
            ):
                wh.execute(
                    """insert into raw.ingestion_watermarks (source_name, watermark, run_id)
                    values (%s, %s, %s)
                    on conflict (source_name) do update
                    set watermark = excluded.watermark, run_id = excluded.run_id, updated_at = clock_timestamp()""",
                    (WATERMARK_NAME, watermark, run_id),
                )
                result.watermark_after = watermark
            else:
                result.watermark_after = result.watermark_before
        wh.execute(f"drop table if exists {st.STAGE}")
    result.seconds = time.monotonic() - began
    return result


@dataclass(frozen=True)
class _Statements:
    upsert: str
    insert_new: str
    insert_rejected: str


def _merge_page(
    wh: psycopg.Connection, sql: _Statements, params: dict[str, Any], result: LandingResult
) -> None:
    wh.execute("set local enable_seqscan = off")  # rejected rows: through the partial index
    (rejected,) = wh.execute(st.REJECTED_COUNT_SQL).fetchone()  # type: ignore[misc]
    wh.execute("set local enable_seqscan = on")
    if params["screen"]:
        (redacted,) = wh.execute(st.SCREENED_COUNT_SQL, params).fetchone()  # type: ignore[misc]
        result.screened_rows += redacted
        result.screened_pages += 1
    if rejected:
        codes = Counter(code for (code,) in wh.execute(sql.insert_rejected, params).fetchall())
        for code, n in codes.items():
            result.rejected_by_reason[code] = result.rejected_by_reason.get(code, 0) + n
        result.rejected += sum(codes.values())
        result.superseded += wh.execute(st.DELETE_SUPERSEDED_SQL).rowcount
    (any_landed,) = wh.execute(st.ANY_LANDED_SQL).fetchone()  # type: ignore[misc]
    statement = sql.upsert if any_landed else sql.insert_new
    inserted, updated = wh.execute(statement, params).fetchone()  # type: ignore[misc]
    result.inserted += inserted
    result.updated += updated


@dataclass(frozen=True)
class WarehouseCounts:
    landed: int
    rejected: int

    @property
    def total(self) -> int:
        return self.landed + self.rejected


def warehouse_counts(warehouse_url: str, start: datetime, end: datetime) -> dict[datetime, WarehouseCounts]:
    """Landed rows per startTime hour and rejected rows per partition, for start <= hour < end."""
    hs = hours(start, end)
    out = {h: WarehouseCounts(0, 0) for h in hs}
    if not hs:
        return out
    with psycopg.connect(warehouse_url, autocommit=True) as wh:
        exists = wh.execute("select to_regclass('raw.litellm_spend_logs') is not null").fetchone()
        if not exists or not exists[0]:
            return out
        landed = dict(
            wh.execute(
                """select date_trunc('hour', start_time at time zone 'UTC'), count(*)
                from raw.litellm_spend_logs where start_time >= %s and start_time < %s group by 1""",
                (hs[0].replace(tzinfo=UTC), (hs[-1] + timedelta(hours=1)).replace(tzinfo=UTC)),
            ).fetchall()
        )
        rejected = dict(
            wh.execute(
                """select partition_key, count(*) from raw.litellm_spend_logs_rejected
                where partition_key = any(%s) group by 1""",
                ([partition_key(h) for h in hs],),
            ).fetchall()
        )
    return {h: WarehouseCounts(landed.get(h, 0), rejected.get(partition_key(h), 0)) for h in hs}
