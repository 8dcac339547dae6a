"""Incremental builds give the same marts as a full rebuild, and rebuilding changes nothing.

One warehouse for the module: the fixture minus some rows is built in full; then the held-back rows
land late (one of them sorts before rows already sequenced), two sessions change in the registry
(A2 marked invalid, B5 finalized), and dbt runs incrementally - the request fact per partition
window the way Dagster runs it, the rest on watermarks. That state is then compared with a second
incremental run (nothing new) and with a full refresh: every column of every mart and incremental
model must match, except the load-audit timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.dbt import fixture_data as fx
from tests.dbt.loader import (
    create_raw_tables,
    insert_raw_other,
    insert_raw_requests,
    insert_registry,
    run_dbt,
)

LATE = {"a1-2", "b2-5", "b3-3", "u-2"}
AUDIT_COLUMNS = {"_loaded_at", "_requests_loaded_at"}
COMPARED = [
    "marts.fct_requests",
    "marts.fct_sessions",
    "marts.fct_variant_summary",
    "marts.fct_pipeline_freshness",
    "marts.fct_prometheus_hourly",
    "marts.fct_request_count_reconciliation",
    "marts.dim_variants",
    "marts.dim_experiments",
    "marts.dim_task_cards",
    "intermediate.int_session_request_rollups",
    "intermediate.int_variant_request_percentiles",
]


def snapshot(url: str) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    with psycopg.connect(url) as conn:
        for table in COMPARED:
            schema, name = table.split(".")
            columns = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
                    " order by ordinal_position",
                    (schema, name),
                )
                if r[0] not in AUDIT_COLUMNS
            ]
            assert columns, f"{table} was not built"
            listed = ", ".join(f'"{c}"' for c in columns)
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            rows = conn.execute(f"select {listed} from {table} order by {order}").fetchall()
            found[table] = [
                tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in r) for r in rows
            ]
    return found


@pytest.fixture(scope="module")
def incremental_warehouse(
    make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> tuple:
    from session_cli.registry.migrate import upgrade_to_head

    url = make_database("dbt_incr")
    target = tmp_path_factory.mktemp("dbt_incr_target")
    upgrade_to_head(url)
    with psycopg.connect(url, autocommit=True) as conn:
        create_raw_tables(conn)
    with psycopg.connect(url) as conn:
        insert_registry(conn)
        insert_raw_requests(conn, [r for r in fx.REQUESTS if r.request_id not in LATE])
        insert_raw_other(conn)
    run_dbt(url, "build", "--exclude-resource-type", "unit_test", target_path=target)
    return url, target


def land_late_rows_and_finalize_sessions(url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        insert_raw_requests(conn, [r for r in fx.REQUESTS if r.request_id in LATE])
        conn.execute(
            "update raw.litellm_spend_logs set _ingested_at = %s where request_id = any(%s)",
            (now, sorted(LATE)),
        )
        conn.execute(
            "update registry.sessions set outcome = 'invalid', updated_at = now() where session_id = %s",
            (fx.SESSION_BY_CODE["A2"].session_id,),
        )
        conn.execute(
            "update registry.sessions set status = 'completed', ended_at = %s, updated_at = now()"
            " where session_id = %s",
            (fx.at("14:30:00"), fx.SESSION_BY_CODE["B5"].session_id),
        )


def test_incremental_equals_full_refresh_and_rebuilds_are_identical(incremental_warehouse: tuple) -> None:
    url, target = incremental_warehouse
    before = snapshot(url)
    land_late_rows_and_finalize_sessions(url)

    # like Dagster: the partitioned facts for the window of the late rows' partitions, then the rest
    window = json.dumps(
        {"window_start": "2026-11-20T10:00:00+00:00", "window_end": "2026-11-20T13:00:00+00:00"}
    )
    run_dbt(url, "run", "--select", "tag:partitioned", "--vars", window, target_path=target)
    run_dbt(url, "run", "--exclude", "tag:partitioned", target_path=target)
    incremental = snapshot(url)
    assert incremental != before

    # the late a1-2 (10:02) sorts between rows already sequenced: A1 is re-sequenced
    requests = {r[0]: r for r in incremental["marts.fct_requests"]}
    assert len(requests) == len(fx.REQUESTS)
    with psycopg.connect(url) as conn:
        seq = conn.execute(
            "select request_id, request_sequence from marts.fct_requests where session_id = %s order by 2",
            (fx.SESSION_BY_CODE["A1"].session_id,),
        ).fetchall()
        assert seq == [("a1-1", 1), ("a1-2", 2), ("a1-3", 3), ("a1-4", 4)]
        # A2 invalid now: fx-opus pools A1 + A3 only: latencies 1000, 1000, 2000, 3000 -> p50 1500
        pooled = conn.execute(
            "select n_sessions, n_excluded, pooled_latency_p50_ms from marts.fct_variant_summary"
            " where variant = 'fx-opus'"
        ).fetchone()
        assert pooled == (2, 2, 1500)
        b5 = conn.execute(
            "select is_included, exclusion_reason from marts.fct_sessions where session_id = %s",
            (fx.SESSION_BY_CODE["B5"].session_id,),
        ).fetchone()
        assert b5 == (True, None)

    # a second incremental run with nothing new (the lookback re-reads the late rows) changes nothing
    run_dbt(url, "run", target_path=target)
    assert snapshot(url) == incremental

    # a full refresh computes the same marts from scratch
    run_dbt(url, "run", "--full-refresh", target_path=target)
    assert snapshot(url) == incremental


def test_watermark_mode_picks_up_rows_landed_after_the_last_run(incremental_warehouse: tuple) -> None:
    url, target = incremental_warehouse
    with psycopg.connect(url) as conn:
        conn.execute("update raw.litellm_spend_logs set spend = 0.5, _ingested_at = %s where request_id = 'b3-1'",
                     (datetime.now(UTC),))  # fmt: skip
    run_dbt(url, "run", "--select", "fct_requests+", target_path=target)
    with psycopg.connect(url) as conn:
        cost = conn.execute(
            "select litellm_cost_usd from marts.fct_sessions where session_id = %s",
            (fx.SESSION_BY_CODE["B3"].session_id,),
        ).fetchone()[0]
    assert cost == pytest.approx(0.5 + 0.0072 + 0.0072)  # b3-1's spend re-landed, rollup recomputed


def test_dbt_docs_generate(incremental_warehouse: tuple, tmp_path: Path) -> None:
    url, _ = incremental_warehouse
    run_dbt(url, "docs", "generate", target_path=tmp_path)
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    assert "model.harness_bench.fct_requests" in catalog["nodes"]


def test_prometheus_drift_beyond_tolerance_fails_the_reconciliation_test(
    incremental_warehouse: tuple,
) -> None:
    url, target = incremental_warehouse
    alias = fx.SESSION_BY_CODE["A3"].key_alias
    with psycopg.connect(url) as conn:  # Prometheus counted 10 requests for A3; spend logs hold 3
        conn.execute(
            "insert into raw.prometheus_series (query_name, labels, ts, value, step_seconds, _partition_key)"
            " values (%s, %s, %s, 10, 60, '2026-11-20-12:00')",
            (fx.PROMETHEUS_QUERY, json.dumps({"api_key_alias": alias}), fx.at("12:05:00")),
        )
    proc = run_dbt(url, "build", "--select", "fct_sessions+", "--exclude-resource-type", "unit_test",
                   target_path=target, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "FAIL 1 prometheus_request_drift_within_tolerance" in proc.stdout
    with psycopg.connect(url) as conn:
        drift = conn.execute(
            "select drift, tolerance, within_tolerance from marts.fct_request_count_reconciliation where key_alias = %s",
            (alias,),
        ).fetchone()
    assert drift == (3 - 10, 2, False)  # tolerance max(2, 5% of 3)
