"""Dashboard SQL latency at scale: every SQL panel of dashboards/*.json, timed as the read-only grafana role
against marts grown to N requests.

Target: every panel answers in under 1 s with 1,000,000 requests in marts.fct_requests (a Grafana panel
past a second feels broken; the live panels are Prometheus and not measured here).

Usage: uv run python benchmarks/dashboard_queries.py [--session-copies 1000] [--request-copies 40] [--runs 5]
       [--server-url URL]

How: the dbt fixture telemetry (tests/dbt/fixture_data.py: 9 sessions, 26 requests) is built into marts
by the real `dbt build` and statistics asset, as the stack's roles (configs/postgres/roles.sql); then
every session is copied --session-copies times (fresh ids, one hour apart) and every request
--session-copies x --request-copies times into the copied sessions. The defaults give 9,009 sessions
and 1,040,026 requests (about 115 per session, like an agent's session of a few hundred calls).
dbt's indexes stay in place. Each panel query is rendered like Grafana would (time range: the whole data) and timed as the
median of --runs executions. A scratch database and four scratch roles are created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "stack")]

from grafana_dashboards import all_targets, load_dashboards, render_sql  # noqa: E402
from stack_db import StackDatabases, apply_roles_sql, require_psql  # noqa: E402

TARGET_S = 1.0

# copy k of a row: new ids derived from the old ones, times shifted by k hours (the record function
# goes in a lateral join: `(f(...)).*` in the select list would call it once per column)
SCALE_SQL = {
    "fct_sessions": """
        insert into marts.fct_sessions
        select p.*
        from marts.fct_sessions as s
        cross join generate_series(1, %(session_copies)s) as g
        cross join lateral jsonb_populate_record(null::marts.fct_sessions, to_jsonb(s) || jsonb_build_object(
            'session_id', md5(s.session_id::text || g)::uuid,
            'key_alias', 'hb-' || md5(s.session_id::text || g)::uuid,
            'started_at', s.started_at + g * interval '1 hour',
            'ended_at', s.ended_at + g * interval '1 hour')) as p
    """,
    "fct_requests": """
        insert into marts.fct_requests
        select p.*
        from marts.fct_requests as r
        cross join generate_series(1, %(session_copies)s) as g
        cross join generate_series(1, %(request_copies)s) as h
        cross join lateral jsonb_populate_record(null::marts.fct_requests, to_jsonb(r) || jsonb_build_object(
            'request_id', r.request_id || '-' || g || '-' || h,
            'session_id', case when r.session_id is not null then md5(r.session_id::text || g)::uuid end,
            'request_sequence', r.request_sequence * %(request_copies)s + h,
            'started_at', r.started_at + g * interval '1 hour' + h * interval '1 second',
            'ended_at', r.ended_at + g * interval '1 hour' + h * interval '1 second',
            '_ingested_at', r._ingested_at + g * interval '1 hour' + h * interval '1 second')) as p
    """,
    "fct_request_count_reconciliation": """
        insert into marts.fct_request_count_reconciliation
        select p.*
        from marts.fct_request_count_reconciliation as c
        cross join generate_series(1, %(session_copies)s) as g
        cross join lateral jsonb_populate_record(null::marts.fct_request_count_reconciliation, to_jsonb(c)
            || jsonb_build_object('session_id', md5(c.session_id::text || g)::uuid)) as p
    """,
}


def build(server_url: str, session_copies: int, request_copies: int) -> StackDatabases:
    import dagster as dg

    from benchmark_pipeline.defs.stats import fct_variant_comparison
    from benchmark_pipeline.resources import WarehouseResource
    from session_cli.registry.migrate import upgrade_to_head
    from tests.dbt.loader import load_fixture, run_dbt

    tag = uuid.uuid4().hex[:8]
    kinds = ("benchmark", "litellm", "litellm_reader", "grafana")
    dbs = StackDatabases(
        server_url=server_url,
        benchmark_db=f"hb_bench_dash_{tag}",
        litellm_db=f"hb_bench_dash_llm_{tag}",
        roles={k: f"hb_bench_{tag}_{k}" for k in kinds},
        passwords={k: f"pw-{tag}" for k in kinds},
    )
    proc = apply_roles_sql(require_psql(), server_url, dbs)
    if proc.returncode != 0:
        raise SystemExit(f"roles.sql failed: {proc.stderr}")
    url = dbs.url("benchmark")
    upgrade_to_head(url)
    load_fixture(url)
    run_dbt(url, "build", target_path=Path(tempfile.mkdtemp(prefix="hb-bench-dbt-")))
    assert dg.materialize(
        [fct_variant_comparison], resources={"warehouse": WarehouseResource(database_url=url)}
    )
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        # the originals stay: Session Detail shows fixture session A1
        copies = {"session_copies": session_copies, "request_copies": request_copies}
        for table, statement in SCALE_SQL.items():
            conn.execute(statement, copies)
            conn.execute(sql.SQL("analyze marts.{}").format(sql.Identifier(table)))
        counts = conn.execute(
            "select (select count(*) from marts.fct_requests), (select count(*) from marts.fct_sessions)"
        ).fetchone()
    print(
        f"scaled to {counts[0]:,} requests, {counts[1]:,} sessions in {time.perf_counter() - started:.1f} s"
    )
    return dbs


def drop(dbs: StackDatabases) -> None:
    with psycopg.connect(dbs.server_url, autocommit=True) as conn:
        for db in (dbs.benchmark_db, dbs.litellm_db):
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
        for role in dbs.roles.values():
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--session-copies", type=int, default=1000)
    parser.add_argument("--request-copies", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    from tests.dbt import fixture_data as fx

    dbs = build(args.server_url, args.session_copies, args.request_copies)
    try:
        values = {
            "experiment": fx.EXPERIMENT,
            "variant": [fx.VARIANT_A, fx.VARIANT_B],
            "session": fx.SESSION_BY_CODE["A1"].session_id,
        }
        time_from = datetime(2026, 11, 20, tzinfo=UTC)
        time_to = time_from + timedelta(hours=args.session_copies + 48)
        worst = 0.0
        with psycopg.connect(dbs.url("grafana")) as conn:
            for target in all_targets(load_dashboards()):
                if not target.is_sql:
                    continue
                query = render_sql(target.query, values, time_from=time_from, time_to=time_to)
                samples, rows = [], 0
                for _ in range(args.runs):
                    start = time.perf_counter()
                    rows = len(conn.execute(query).fetchall())
                    samples.append(time.perf_counter() - start)
                median = statistics.median(samples)
                worst = max(worst, median)
                flag = "" if median < TARGET_S else "  OVER TARGET"
                print(f"{median * 1000:9.1f} ms  {rows:8d} rows  {target.id}{flag}")
        print(f"slowest panel: {worst * 1000:.1f} ms (target < {TARGET_S * 1000:.0f} ms)")
        return 0 if worst < TARGET_S else 1
    finally:
        drop(dbs)


if __name__ == "__main__":
    raise SystemExit(main())
