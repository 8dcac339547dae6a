"""Spend-log landing speed against plain COPY into the same table (target: landing >= 0.8x COPY).

    uv run python benchmarks/ingest.py [--rows 1000000] [--hours 48] [--server URL] [--keep]

1. Creates two scratch databases on the server: a LiteLLM database (LiteLLM's real tables, from
   litellm-proxy-extras) and a warehouse. Fills ``"LiteLLM_SpendLogs"`` with ``--rows`` rows in
   LiteLLM's real shape (full ``metadata`` object, ~1.9 kB; keys, aliases, usage and times vary)
   spread over ``--hours`` hours. Not timed.
2. Landing path, timed: one ``land_window`` over the whole span, exactly what a single-run
   backfill does. The window holds no landed row, so every page is a direct page: LiteLLM's server
   classifies the rows and renders them in the landing table's layout, the relay screens the bytes
   for secrets and streams them with binary COPY into ``raw.litellm_spend_logs``, and the
   watermark moves in the same transaction. On this machine LiteLLM's server, the warehouse and the
   relay share the same cores.
3. Landing from pre-read pages, timed: the same direct pages, read from LiteLLM once beforehand
   (and screened) and kept in files, go through the same transaction. This isolates what the
   landing costs the warehouse, apart from reading LiteLLM (which the COPY baseline never does).
4. Plain COPY, timed: the landed rows are copied out to a file, the table is truncated, and the
   same rows are COPYed back in (text format, the indexes in place): no source, no checks, no
   upsert.

Both are repeated (``--repeat``, alternating, each on an empty table after a checkpoint) because
the machines this runs on are shared: the best and the median of each are printed, with their
ratios. The server defaults to BENCHMARK_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres. Needs about 3x the data size free on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmark_pipeline.defs.litellm.landing import land_window  # noqa: E402
from benchmark_pipeline.defs.litellm.screen import PageScreen  # noqa: E402
from benchmark_pipeline.defs.litellm.source_db import (  # noqa: E402
    DatabaseSource,
    Page,
    ReadSummary,
    Staged,
    Window,
)
from benchmark_pipeline.defs.litellm.statements import LANDING_COPY_SQL  # noqa: E402
from session_cli.litellm_schema import apply_litellm_migrations  # noqa: E402
from tests.pipeline.spendlog_rows import metadata, openai_usage  # noqa: E402

START = datetime(2026, 11, 1)
TARGET_RATIO = 0.8

# One statement generates every row server-side; metadata varies per row in the fields that vary
# in real traffic (key alias and hash, call id, usage numbers, overhead).
FILL_SQL = """
insert into "LiteLLM_SpendLogs" (
    request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
    "startTime", "endTime", "completionStartTime", model, model_id, model_group, custom_llm_provider,
    api_base, "user", metadata, cache_hit, cache_key, request_tags, team_id, organization_id, end_user,
    session_id, status, request_duration_ms, litellm_call_id, created_at, updated_at)
select
    'chatcmpl-' || md5(g::text), 'acompletion', k.hash, 0.0004 * (g %% 7), p + c, p, c,
    t.st, t.st + make_interval(secs => lat), t.st + make_interval(secs => lat / 3), 'gpt-4o-2024-08-06',
    'deployment-gpt-4o', 'gpt-4o', 'openai', 'https://api.openai.com/v1', 'operator',
    jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(%(template)s::jsonb,
        '{user_api_key}', to_jsonb(k.hash)),
        '{user_api_key_alias}', to_jsonb(k.alias)),
        '{litellm_call_id}', to_jsonb('call-' || g)),
        '{usage_object,prompt_tokens}', to_jsonb(p)),
        '{litellm_overhead_time_ms}', to_jsonb(round((g %% 97)::numeric / 10, 1))),
    'False', 'Cache OFF', '[]', '', '', '', 'trace-' || (g / 30), 'success', (lat * 1000)::integer,
    'call-' || g, t.st + make_interval(secs => lat + 5), t.st + make_interval(secs => lat + 5)
from generate_series(1::bigint, %(rows)s) as g
cross join lateral (select 1000 + (g * 7919) %% 30000 as p, 20 + (g * 104729) %% 800 as c,
                           0.5 + ((g * 31) %% 600) / 10.0 as lat) as n
cross join lateral (select %(start)s::timestamp + make_interval(secs => (g - 1) * %(step)s) as st) as t
cross join lateral (select encode(sha256(('sk-bench-' || (g %% 50))::bytea), 'hex') as hash,
                           'hb-bench-' || (g %% 50) as alias) as k
"""


class ReplaySource:
    """The database source's direct pages, recorded once (binary COPY data in files) and replayed."""

    name = "litellm_db"

    def __init__(self, pages: list[Path]) -> None:
        self._pages = pages
        self.rows_read = 0

    def describe(self) -> str:
        return "pre-read pages"

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pages(self, window: Window) -> Iterator[Page]:
        for number, path in enumerate(self._pages, start=1):

            def copy_into(warehouse: psycopg.Connection, path: Path = path) -> Staged:
                cursor = warehouse.cursor()
                with warehouse.transaction(), path.open("rb") as fh, cursor.copy(LANDING_COPY_SQL) as sink:
                    while block := fh.read(1 << 20):
                        sink.write(block)
                return Staged(0, False, max(cursor.rowcount, 0))

            yield Page(number, copy_into)

    def summary(self) -> ReadSummary:
        return ReadSummary({}, None)


def record_pages(source_url: str, start: datetime, end: datetime, directory: Path) -> list[Path]:
    """Read every direct page of the window once, as the database source does, into files."""
    recorded = []
    with DatabaseSource(source_url) as source:
        for spec in source._page_specs(start, end):
            path = directory / f"page-{spec.number:05d}.bin"
            screen = PageScreen()
            with path.open("wb") as fh:
                for block in source._blocks(source._query(spec, "direct"), spec.what):
                    screen.scan(block)
                    fh.write(block)
            if screen.finish():
                raise SystemExit(
                    f"page {spec.number} holds secret-looking text: the generated rows should not"
                )
            recorded.append(path)
    return recorded


def _with_dbname(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCHMARK_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--repeat", type=int, default=3, help="alternate landing and COPY this many times")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()

    suffix = uuid.uuid4().hex[:8]
    source_db, warehouse_db = f"hb_bench_litellm_{suffix}", f"hb_bench_warehouse_{suffix}"
    source_url, warehouse_url = _with_dbname(args.server, source_db), _with_dbname(args.server, warehouse_db)
    with psycopg.connect(args.server, autocommit=True) as admin:
        for name in (source_db, warehouse_db):
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        return _run(args, source_url, warehouse_url)
    finally:
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as admin:
                for name in (source_db, warehouse_db):
                    admin.execute(
                        sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                    )


def _run(args: argparse.Namespace, source_url: str, warehouse_url: str) -> int:
    rows, hours = args.rows, args.hours
    apply_litellm_migrations(source_url)
    template = metadata(usage=openai_usage(1000, 100, cached=512))
    print(f"generating {rows:,} LiteLLM spend-log rows over {hours} h ...", file=sys.stderr)
    began = time.monotonic()
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(
            FILL_SQL,
            {"template": json.dumps(template), "rows": rows, "start": START, "step": hours * 3600 / rows},
        )
        conn.execute('vacuum analyze "LiteLLM_SpendLogs"')
        size = conn.execute(
            "select pg_size_pretty(pg_total_relation_size('\"LiteLLM_SpendLogs\"'))"
        ).fetchone()
    print(f"  generated in {time.monotonic() - began:.1f} s ({size[0] if size else '?'})", file=sys.stderr)

    end = START + timedelta(hours=hours)
    landing_times: list[float] = []
    replay_times: list[float] = []
    copy_times: list[float] = []
    result = None
    with tempfile.TemporaryDirectory(prefix="hb-bench-") as tmp:
        dump = Path(tmp) / "landed.copy"
        print("recording LiteLLM's pages for the replay runs ...", file=sys.stderr)
        recorded = record_pages(source_url, START, end, Path(tmp))
        for rep in range(1, args.repeat + 1):
            _reset(warehouse_url)
            print(f"[{rep}/{args.repeat}] landing from pre-read direct pages ...", file=sys.stderr)
            began = time.monotonic()
            replayed = land_window(warehouse_url, ReplaySource(recorded), START, end, landable=(START, end))
            replay_times.append(time.monotonic() - began)
            if replayed.inserted != rows:
                print(f"error: replay landed {replayed.inserted} of {rows} rows", file=sys.stderr)
                return 1
            _reset(warehouse_url)
            print(
                f"[{rep}/{args.repeat}] landing path (LiteLLM database -> screen -> landing table) ...",
                file=sys.stderr,
            )
            began = time.monotonic()
            result = land_window(
                warehouse_url,
                DatabaseSource(source_url),
                START,
                end,
                landable=(START, end),
            )
            landing_times.append(time.monotonic() - began)
            if result.inserted != rows or result.direct_rows != rows:
                print(f"error: landed {result.inserted} of {rows} rows ({result})", file=sys.stderr)
                return 1
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                if rep == 1:
                    with (
                        dump.open("wb") as fh,
                        conn.cursor().copy("copy raw.litellm_spend_logs to stdout") as out,
                    ):
                        for chunk in out:
                            fh.write(chunk)
                conn.execute("truncate raw.litellm_spend_logs")
            _checkpoint(warehouse_url)
            print(
                f"[{rep}/{args.repeat}] plain COPY of the same rows into the same table ...", file=sys.stderr
            )
            began = time.monotonic()
            with (
                psycopg.connect(warehouse_url) as conn,
                dump.open("rb") as fh,
                conn.cursor().copy("copy raw.litellm_spend_logs from stdin") as sink,
            ):
                while chunk := fh.read(1 << 20):
                    sink.write(chunk)
            copy_times.append(time.monotonic() - began)
        dump_bytes = dump.stat().st_size

    assert result is not None
    best_landing, best_copy = min(landing_times), min(copy_times)
    med_landing, med_copy = statistics.median(landing_times), statistics.median(copy_times)
    best_replay, med_replay = min(replay_times), statistics.median(replay_times)
    print(f"rows: {rows:,} over {hours} hourly partitions, {dump_bytes / rows:,.0f} bytes per landed row")
    print(
        f"landing path: best {best_landing:7.1f} s = {rows / best_landing:9,.0f} rows/s, "
        f"median {med_landing:7.1f} s = {rows / med_landing:9,.0f} rows/s "
        f"({result.pages} pages; last run: waiting for LiteLLM {result.wait_seconds:.1f} s, "
        f"streaming pages {result.stage_seconds:.1f} s, merging {result.merge_seconds:.1f} s; "
        f"{result.direct_rows:,} rows landed directly)"
    )
    print(
        f"pre-read:     best {best_replay:7.1f} s = {rows / best_replay:9,.0f} rows/s, "
        f"median {med_replay:7.1f} s = {rows / med_replay:9,.0f} rows/s (the landing without reading LiteLLM)"
    )
    print(
        f"plain COPY:   best {best_copy:7.1f} s = {rows / best_copy:9,.0f} rows/s, "
        f"median {med_copy:7.1f} s = {rows / med_copy:9,.0f} rows/s"
    )
    for label, best, median in (
        ("landing path from LiteLLM", best_landing, med_landing),
        ("landing from pre-read pages", best_replay, med_replay),
    ):
        ratio_best, ratio_median = best_copy / best, med_copy / median
        verdict = "meets" if ratio_best >= TARGET_RATIO else "misses"
        print(
            f"{label}: {ratio_best:.2f}x COPY on best runs, {ratio_median:.2f}x on medians "
            f"({verdict} the {TARGET_RATIO}x target)"
        )
    return 0


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select to_regclass('raw.litellm_spend_logs') is not null").fetchone()
        if exists and exists[0]:
            conn.execute(
                "truncate raw.litellm_spend_logs, raw.litellm_spend_logs_rejected, raw.ingestion_watermarks"
            )
        conn.execute("checkpoint")


def _checkpoint(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")


if __name__ == "__main__":
    sys.exit(main())
