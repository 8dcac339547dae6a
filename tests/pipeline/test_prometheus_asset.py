"""The Dagster side of the Prometheus domain: the asset in a real in-process run, its check, schedule, wiring."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest
from prometheus_support import PrometheusInstance, example_litellm_hour, require_prometheus, start_prometheus

from benchmark_pipeline.defs.prometheus import defs as prometheus_defs
from benchmark_pipeline.defs.prometheus.assets import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    SCRAPE_COVERAGE_CHECK,
    prometheus_hourly_schedule,
    raw_prometheus_series,
    recent_partition_range,
)
from benchmark_pipeline.partitions import hourly_partitions
from benchmark_pipeline.resources import PrometheusResource, WarehouseResource


@pytest.fixture(scope="module")
def hour_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusInstance]:
    require_prometheus()
    instance = start_prometheus(example_litellm_hour(), tmp_path_factory.mktemp("prom-asset"))
    yield instance
    instance.stop()


def resources(warehouse_url: str, prometheus_url: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url),
        "prometheus": PrometheusResource(base_url=prometheus_url),
    }


def count_by_partition(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "select _partition_key, count(*) from raw.prometheus_series group by 1 order by 1"
        ).fetchall()
    return dict(found)


def test_materializing_a_partition_lands_it_and_reports(
    make_database: Callable[[str], str], hour_prometheus: PrometheusInstance
) -> None:
    url = make_database("prom_asset")
    result = dg.materialize(
        [raw_prometheus_series],
        partition_key="2025-06-01-10:00",
        resources=resources(url, hour_prometheus.url),
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("raw_prometheus_series")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    # 11 non-empty queries: rate(2 series x 60) + rate by model(60) + 4 quantiles(60) + 2 token rates(60)
    # + cumulative(60) + up(50) = 120 + 60 + 240 + 120 + 60 + 50
    assert metadata["rows_landed"] == 650
    assert metadata["rows_replaced"] == 0
    assert metadata["window_start"] == "2025-06-01T10:00:00+00:00"
    assert len(metadata["empty_queries"]) == 10
    assert count_by_partition(url) == {"2025-06-01-10:00": 650}

    [check] = result.get_asset_check_evaluations()
    assert check.check_name == SCRAPE_COVERAGE_CHECK
    assert check.passed is False  # LiteLLM's target is seen up for 50 of 60 minutes
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["scrape_coverage"].value == pytest.approx(50 / 60, abs=1e-6)

    again = dg.materialize(
        [raw_prometheus_series],
        partition_key="2025-06-01-10:00",
        resources=resources(url, hour_prometheus.url),
    )
    [rerun] = again.asset_materializations_for_node("raw_prometheus_series")
    assert (rerun.metadata["rows_landed"].value, rerun.metadata["rows_replaced"].value) == (650, 650)
    assert count_by_partition(url) == {"2025-06-01-10:00": 650}


def test_a_range_run_covers_every_partition_in_one_run(
    make_database: Callable[[str], str], hour_prometheus: PrometheusInstance
) -> None:
    url = make_database("prom_asset_range")
    result = dg.materialize(
        [raw_prometheus_series],
        resources=resources(url, hour_prometheus.url),
        tags={RANGE_START_TAG: "2025-06-01-09:00", RANGE_END_TAG: "2025-06-01-11:00"},
    )
    assert result.success
    materializations = result.asset_materializations_for_node("raw_prometheus_series")
    assert sorted(m.partition for m in materializations) == [
        "2025-06-01-09:00",
        "2025-06-01-10:00",
        "2025-06-01-11:00",
    ]
    assert {m.metadata["window_end"].value for m in materializations} == {"2025-06-01T12:00:00+00:00"}
    assert set(count_by_partition(url)) == {"2025-06-01-09:00", "2025-06-01-10:00", "2025-06-01-11:00"}


def test_prometheus_down_fails_the_run_with_a_clear_message(make_database: Callable[[str], str]) -> None:
    url = make_database("prom_asset_down")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        result = dg.materialize(
            [raw_prometheus_series],
            partition_key="2025-06-01-10:00",
            resources=resources(url, dead),
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    assert error.cause.cls_name == "PrometheusUnavailableError"
    assert f"PrometheusUnavailableError: Prometheus at {dead} is unreachable while running query" in (
        error.cause.message
    )


def test_schedule_relands_the_last_three_complete_hours() -> None:
    tick = datetime(2025, 6, 1, 10, 5, tzinfo=UTC)
    assert recent_partition_range(tick) == ("2025-06-01-07:00", "2025-06-01-09:00")
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    request = prometheus_hourly_schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[RANGE_START_TAG] == "2025-06-01-07:00"
    assert request.tags[RANGE_END_TAG] == "2025-06-01-09:00"
    assert request.run_key == "2025-06-01-07:00..2025-06-01-09:00"
    assert prometheus_hourly_schedule.cron_schedule == "5 * * * *"
    assert prometheus_hourly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_domain_definitions() -> None:
    key = dg.AssetKey("raw_prometheus_series")
    assert raw_prometheus_series.keys == {key}
    assert raw_prometheus_series.group_names_by_key == {key: "raw"}
    assert raw_prometheus_series.partitions_def is hourly_partitions
    assert raw_prometheus_series.backfill_policy == dg.BackfillPolicy.single_run()
    assert {c.name for c in raw_prometheus_series.check_keys} == {SCRAPE_COVERAGE_CHECK}
    assert {a.key for a in prometheus_defs.assets} == {key}
    assert [j.name for j in prometheus_defs.jobs] == ["prometheus_ingest_job"]
    assert [s.name for s in prometheus_defs.schedules] == ["prometheus_hourly_schedule"]
