"""The whole graph materialized in-process, the way ``benchmark pipeline run`` does it (run_window,
the code location's definitions): the fixture requests are written into LiteLLM's real
``"LiteLLM_SpendLogs"`` table, landed by the real ``raw_litellm_spend_logs`` asset, modelled by dbt
(partitioned and unpartitioned assets, tests as asset checks) and compared by the statistics asset.
One run over the fixture day's partitions. Prometheus points are inserted into raw directly (no
Prometheus server here; its landing has its own tests)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.dbt import fixture_data as fx
from tests.dbt.loader import create_raw_tables, insert_raw_other, insert_registry, insert_spend_logs

WARN_ONLY = {"warn_streamed_requests_without_first_chunk_time"}  # a2-3 is flagged on purpose
WINDOW = (datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 15, tzinfo=UTC))


def selection() -> dg.AssetSelection:
    from benchmark_pipeline.run import DEFAULT_SELECTION

    return DEFAULT_SELECTION - dg.AssetSelection.keys("raw_prometheus_series")


def code_location(url: str, litellm_url: str) -> dg.Definitions:
    """The code location's domains (benchmark_pipeline/definitions.py) bound to the test databases."""
    import importlib

    from benchmark_pipeline.definitions import DOMAINS
    from benchmark_pipeline.resources import LiteLLMSourceResource, PrometheusResource, WarehouseResource

    domains = [importlib.import_module(f"benchmark_pipeline.defs.{name}").defs for name in DOMAINS]
    resources = {
        "warehouse": WarehouseResource(database_url=url),
        "litellm_source": LiteLLMSourceResource(database_url=litellm_url),
        "prometheus": PrometheusResource(base_url="http://127.0.0.1:9"),
    }
    return dg.Definitions.merge(*domains, dg.Definitions(resources=resources))


@pytest.fixture(scope="module")
def materialized(make_database: Callable[[str], str]) -> tuple:
    from benchmark_pipeline.run import run_window
    from session_cli.litellm_schema import apply_litellm_migrations
    from session_cli.registry.migrate import upgrade_to_head

    url, litellm_url = make_database("dbt_graph"), make_database("dbt_graph_litellm")
    upgrade_to_head(url)
    apply_litellm_migrations(litellm_url)
    insert_spend_logs(litellm_url, fx.REQUESTS)
    with psycopg.connect(url, autocommit=True) as conn:
        create_raw_tables(conn)
    with psycopg.connect(url) as conn:
        insert_registry(conn)
        insert_raw_other(conn)
    instance = dg.DagsterInstance.ephemeral()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        defs = code_location(url, litellm_url)
        result = run_window(*WINDOW, selection=selection(), definitions=defs, instance=instance)
    return url, defs, result, instance


def fetch(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def events(instance: dg.DagsterInstance, run_id: str, kind: str) -> list:
    return [
        e.dagster_event
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value == kind
    ]


def test_one_run_lands_models_and_compares_with_every_check_passing(materialized: tuple) -> None:
    _, _, result, instance = materialized
    assert result.success, result.failures
    assert (result.first_partition, result.last_partition) == ("2026-11-20-10:00", "2026-11-20-14:00")
    # the real landing read LiteLLM's table: every fixture row landed, none rejected
    landing = result.materializations["raw_litellm_spend_logs"]
    assert (landing["rows_inserted"], landing["rows_rejected"]) == (len(fx.REQUESTS), 0)
    assert {"fct_requests", "fct_sessions", "fct_variant_summary", "fct_variant_comparison"} <= set(
        result.materializations
    )
    partitions = {
        e.partition for e in events(instance, result.run_id, "ASSET_MATERIALIZATION")
        if e.asset_key.to_user_string() == "fct_requests"
    }  # fmt: skip
    assert partitions == {f"2026-11-20-{h}:00" for h in range(10, 15)}
    failed = {name.split(":", 1)[1] for name, check in result.checks.items() if not check["passed"]}
    assert failed == WARN_ONLY
    checked = {name.split(":", 1)[0] for name in result.checks}
    assert {
        "raw_litellm_spend_logs",
        "fct_requests",
        "fct_sessions",
        "fct_variant_summary",
        "dim_variants",
    } <= checked
    # the relationships test requests -> sessions spans the partitioned and the unpartitioned dbt
    # assets: it runs with the downstream build (indirect selection "buildable") and is logged as an
    # observation; had it failed, that dbt build and the run would have failed
    observed = {
        e.asset_key.to_user_string()
        for e in events(instance, result.run_id, "ASSET_OBSERVATION")
        if "relationships_fct_requests_session_id" in str(e.event_specific_data.asset_observation.metadata)
    }
    assert "fct_sessions" in observed


def test_materializations_carry_column_schema_and_row_counts(materialized: tuple) -> None:
    _, _, result, _ = materialized
    sessions = result.materializations["fct_sessions"]
    assert sessions["dagster/row_count"] == len(fx.SESSIONS)
    assert sessions["dagster/table_name"] == "marts.fct_sessions"
    columns = {c.name: c for c in sessions["dagster/column_schema"].columns}
    assert columns["latency_p95_ms"].type == "double precision"
    assert "percentile_cont(0.95)" in columns["latency_p95_ms"].description


def test_marts_hold_the_hand_computed_values(materialized: tuple) -> None:
    url = materialized[0]
    a1 = fetch(
        url, f"select * from marts.fct_sessions where session_id = '{fx.SESSION_BY_CODE['A1'].session_id}'"
    )
    assert (a1[0]["latency_p50_ms"], a1[0]["latency_p95_ms"], a1[0]["ttft_p50_ms"], a1[0]["error_rate"]) == (
        2000, 2900, 500, 0.25
    )  # fmt: skip
    requests = {r["request_id"]: r for r in fetch(url, "select * from marts.fct_requests")}
    assert len(requests) == len(fx.REQUESTS)
    assert requests["b1-2"]["attribution"] == "key_alias" and requests["u-1"]["attribution"] == "unattributed"
    assert (requests["a2-2"]["cost_usd"], requests["a2-2"]["cost_mismatch"]) == (pytest.approx(0.04), True)
    assert (requests["a2-3"]["has_suspect_ttft"], requests["a3-2"]["status"]) == (True, "failure")
    assert (requests["b1-1"]["cached_input_tokens"], requests["a1-1"]["cache_write_tokens"]) == (5000, 1000)
    summary = {r["variant"]: r for r in fetch(url, "select * from marts.fct_variant_summary")}
    assert (summary["fx-opus"]["pooled_latency_p95_ms"], summary["fx-kimi"]["pooled_latency_p95_ms"]) == (
        3700,
        5100,
    )
    assert (summary["fx-opus"]["n_sessions"], summary["fx-kimi"]["n_excluded"]) == (3, 2)
    assert summary["fx-opus"]["error_rate_ci_low"] == pytest.approx(0.107791, abs=1e-6)


def test_comparison_reads_the_marts(materialized: tuple) -> None:
    url = materialized[0]
    rows = {r["metric"]: r for r in fetch(url, "select * from marts.fct_variant_comparison")}
    assert len(rows) == 7
    # medians of the session values (fx-kimi - fx-opus), worked out in test_marts_values.py
    assert rows["latency_p95_ms"]["diff_median"] == pytest.approx(3400 - 2900)
    assert rows["ttft_p50_ms"]["diff_median"] == pytest.approx(0)
    assert rows["error_rate"]["diff_median"] == pytest.approx(0 - 0.25)
    assert rows["cost_usd"]["diff_median"] == pytest.approx(0.0216 - 0.10325)
    assert rows["total_tokens"]["diff_median"] == pytest.approx(26400 - 26100)
    assert rows["active_duration_s"]["diff_median"] == pytest.approx(126 - 150)
    for row in rows.values():
        assert (row["n_variant"], row["n_baseline"]) == (3, 3)
        assert (row["n_excluded_variant"], row["n_excluded_baseline"]) == (2, 1)
        # 3 vs 3 sessions: the smallest two-sided Mann-Whitney p is 2 / C(6, 3) = 0.1
        assert row["p_value"] >= 0.1 - 1e-12
        assert row["verdict"] == "no detectable difference"
        assert row["ci_low"] <= row["diff_median"] <= row["ci_high"]


def test_statistics_are_stable_across_runs(materialized: tuple) -> None:
    from benchmark_pipeline.defs.stats import fct_variant_comparison
    from benchmark_pipeline.resources import WarehouseResource

    url = materialized[0]
    query = (
        "select metric, ci_low, ci_high, p_value, verdict from marts.fct_variant_comparison order by metric"
    )
    before = fetch(url, query)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rerun = dg.materialize(
            [fct_variant_comparison], resources={"warehouse": WarehouseResource(database_url=url)}
        )
    assert rerun.success
    assert fetch(url, query) == before  # seeded bootstrap: the same CI, p-values and verdicts
