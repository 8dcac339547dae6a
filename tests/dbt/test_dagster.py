"""The dbt project as Dagster assets: one lineage graph from raw and registry to the marts, dbt
tests as asset checks, hourly partitions on the time-grained facts, and automation that makes the
marts follow ingestion (simulated ticks of the automation sensor, no daemon needed)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from benchmark_pipeline.partitions import hourly_partitions

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


@pytest.fixture(scope="module")
def dbt_defs() -> dg.Definitions:
    """The dbt domain plus stand-ins for the raw assets (same keys and partitions as the real ones),
    so this test does not depend on the ingestion domains' state."""
    from benchmark_pipeline.defs.dbt import defs
    from benchmark_pipeline.resources import WarehouseResource

    raw = [
        dg.AssetSpec("raw_litellm_spend_logs", partitions_def=hourly_partitions, group_name="raw"),
        dg.AssetSpec("raw_prometheus_series", partitions_def=hourly_partitions, group_name="raw"),
    ]
    return dg.Definitions.merge(
        defs,
        dg.Definitions(
            assets=raw, resources={"warehouse": WarehouseResource(database_url="postgresql://u@h/d")}
        ),
    )


def test_lineage_is_one_graph_from_raw_and_registry_to_the_marts(dbt_defs: dg.Definitions) -> None:
    graph = dbt_defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys}

    assert parents("stg_litellm__spend_logs") == {"raw_litellm_spend_logs"}
    assert parents("stg_litellm__spend_logs_rejected") == {"raw_litellm_spend_logs"}
    assert parents("stg_prometheus__series") == {"raw_prometheus_series"}
    assert parents("stg_registry__sessions") == {"registry_sessions"}
    assert parents("int_requests_costed") == {"int_requests_attributed", "model_prices"}
    assert parents("fct_requests") == {"int_requests_costed"}
    assert parents("int_session_request_rollups") == {"fct_requests"}
    assert "int_session_request_rollups" in parents("fct_sessions")
    assert "fct_sessions" in parents("fct_variant_summary")

    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["stg_litellm__spend_logs"] == "staging"
    assert groups["int_requests_costed"] == "intermediate"
    assert groups["fct_requests"] == groups["fct_sessions"] == groups["dim_variants"] == "marts"
    assert groups["registry_sessions"] == "registry"
    assert groups["model_prices"] == "seeds"
    marts = {
        "fct_requests", "fct_sessions", "fct_variant_summary", "fct_prometheus_hourly", "fct_pipeline_freshness",
        "fct_request_count_reconciliation", "dim_variants", "dim_experiments", "dim_task_cards",
    }  # fmt: skip
    assert marts <= set(groups)
    assert not graph.get(dg.AssetKey("registry_sessions")).is_materializable  # external: the CLI writes it


def test_time_grained_facts_share_the_raw_hourly_partitions(dbt_defs: dg.Definitions) -> None:
    graph = dbt_defs.resolve_asset_graph()
    partitioned = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    assert partitioned == {
        "raw_litellm_spend_logs",
        "raw_prometheus_series",
        "fct_requests",
        "fct_prometheus_hourly",
    }
    assert graph.get(dg.AssetKey("fct_requests")).partitions_def == hourly_partitions
    assert graph.get(dg.AssetKey("stg_litellm__spend_logs")).is_virtual  # views hold no data


def test_dbt_tests_are_asset_checks(dbt_defs: dg.Definitions) -> None:
    graph = dbt_defs.resolve_asset_graph()
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("fct_requests", "unique_fct_requests_request_id") in checks
    assert ("fct_requests", "expression_is_true_fct_requests_ttft_ms__ttft_ms_latency_ms") in checks
    assert ("fct_requests", "warn_streamed_requests_without_first_chunk_time") in checks
    assert ("fct_sessions", "unique_fct_sessions_session_id") in checks
    assert ("fct_request_count_reconciliation", "prometheus_request_drift_within_tolerance") in checks
    assert len(checks) > 60


def test_automation_sensor_and_backstop_schedule_run_by_default(dbt_defs: dg.Definitions) -> None:
    sensor = dbt_defs.get_sensor_def("dbt_automation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    schedule = dbt_defs.get_schedule_def("dbt_backstop_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_window_vars() -> None:
    from benchmark_pipeline.defs.dbt.assets import window_vars

    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert window_vars(start, start + timedelta(hours=3)) == {
        "window_start": "2026-11-20T10:00:00+00:00",
        "window_end": "2026-11-20T13:00:00+00:00",
    }


def _requested(result: dg.EvaluateAutomationConditionsResult) -> dict[str, list[str] | None]:
    found: dict[str, list[str] | None] = {}
    for r in result.results:
        if r.true_subset.size:
            subset = r.true_subset
            found[r.key.to_user_string()] = (
                sorted(subset.expensively_compute_partition_keys()) if subset.is_partitioned else None
            )
    return found


def _materialize(instance: dg.DagsterInstance, requested: dict[str, list[str] | None]) -> None:
    for key, partitions in requested.items():
        for partition in partitions or [None]:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_marts_follow_ingestion_without_one_run_per_request(dbt_defs: dg.Definitions) -> None:
    instance = dg.DagsterInstance.ephemeral()

    # first tick: the views, the price seed and the registry dimensions are built because missing
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance)
    first = _requested(tick)
    assert {"stg_litellm__spend_logs", "int_requests_costed", "model_prices", "dim_variants"} <= set(first)
    assert "fct_requests" not in first  # not before the views it reads exist
    _materialize(instance, first)
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    # the new price seed re-costs the automation window (last 7 days) of requests: one backfill
    assert len(_requested(tick)["fct_requests"]) == 7 * 24
    _materialize(instance, _requested(tick))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    _materialize(instance, _requested(tick))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    assert _requested(tick) == {}  # settled: nothing runs without new data

    # two raw partitions land (many requests each): their fact partitions are requested together
    hours = [(datetime.now(UTC) - timedelta(hours=h)).strftime("%Y-%m-%d-%H:00") for h in (3, 2)]
    for hour in hours:
        instance.report_runless_asset_event(dg.AssetMaterialization("raw_litellm_spend_logs", partition=hour))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    requested = _requested(tick)
    assert requested == {"fct_requests": sorted(hours), "fct_pipeline_freshness": None}

    # once the fact is built, the session and variant rollups follow in the next tick
    _materialize(instance, requested)
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    assert set(_requested(tick)) == {
        "int_session_request_rollups",
        "int_variant_request_percentiles",
        "fct_sessions",
        "fct_variant_summary",
        "fct_request_count_reconciliation",
    }
    _materialize(instance, _requested(tick))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    assert _requested(tick) == {}

    # Prometheus lands an hour: its hourly fact partition, then the sessions' cross-check
    instance.report_runless_asset_event(dg.AssetMaterialization("raw_prometheus_series", partition=hours[1]))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    requested = _requested(tick)
    assert requested["fct_prometheus_hourly"] == [hours[1]]
    assert "fct_sessions" in requested

    # a view rebuilt alone (its SQL changed) drops the views reading it (dbt replaces views with
    # DROP ... CASCADE): they are rebuilt right after, the tables reading them are not
    _materialize(instance, requested)
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    _materialize(instance, _requested(tick))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    assert _requested(tick) == {}
    instance.report_runless_asset_event(dg.AssetMaterialization("stg_litellm__spend_logs"))
    tick = dg.evaluate_automation_conditions(defs=dbt_defs, instance=instance, cursor=tick.cursor)
    assert set(_requested(tick)) == {"int_requests_attributed", "int_requests_costed"}
