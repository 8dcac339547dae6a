"""The ``raw_prometheus_series`` asset: catalog range queries landed per hourly partition."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at import time
from datetime import datetime, timedelta

import dagster as dg
from dagster import AssetExecutionContext, ScheduleEvaluationContext

from benchmark_pipeline.defs.prometheus.catalog import default_catalog_path, load_catalog
from benchmark_pipeline.defs.prometheus.client import PrometheusClient
from benchmark_pipeline.defs.prometheus.landing import TABLE, LandingReport, land_window, scrape_coverage
from benchmark_pipeline.partitions import hourly_partitions
from benchmark_pipeline.resources import PrometheusResource, WarehouseResource

ASSET_KEY = dg.AssetKey("raw_prometheus_series")
SCRAPE_UP_QUERY = "litellm_scrape_up"
SCRAPE_COVERAGE_CHECK = "scrape_coverage"
# Below this share of up-points in a window, missing series may mean "no data", not "no traffic".
# One missed scrape at a 60 s step costs 1/60 of an hour; 95% tolerates three minutes of outage.
MIN_SCRAPE_COVERAGE = 0.95
FRESHNESS_DEADLINE_CRON = "15 * * * *"


@dg.asset(
    key=ASSET_KEY,
    group_name="raw",
    partitions_def=hourly_partitions,
    # a backfill over a range is one run: the window is split into day-long transactions and,
    # inside those, into query_range calls under Prometheus's 11,000-point limit
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"prometheus", "postgres"},
    check_specs=[
        dg.AssetCheckSpec(
            SCRAPE_COVERAGE_CHECK,
            asset=ASSET_KEY,
            description=(
                f"Share of the window's points at which Prometheus saw the LiteLLM target up "
                f"(catalog query {SCRAPE_UP_QUERY}); warns below {MIN_SCRAPE_COVERAGE:.0%}, because "
                "empty series then mean missing data rather than no traffic."
            ),
        )
    ],
    description=(
        f"LiteLLM's Prometheus metrics: one row per (catalog query, result labels, evaluation time) in "
        f"{TABLE}, from query_range over each hourly partition; catalog configs/prometheus/queries.yaml."
    ),
    metadata={"table": TABLE},
    # the schedule lands the previous hours at 5 past; a materialization between :00 and :15 of
    # every hour is fresh, anything older once :15 has passed is stale (Dagster's freshness UI)
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron=FRESHNESS_DEADLINE_CRON, lower_bound_delta=timedelta(minutes=15)
    ),
)
def raw_prometheus_series(
    context: AssetExecutionContext, warehouse: WarehouseResource, prometheus: PrometheusResource
) -> dg.MaterializeResult:
    window = context.partition_time_window
    catalog_path = default_catalog_path()
    catalog = load_catalog(catalog_path)
    with PrometheusClient(prometheus.base_url) as client:
        report = land_window(
            warehouse.url(), client, catalog, window.start, window.end, catalog_path=catalog_path
        )
    for warning in report.warnings:
        context.log.warning(warning)
    coverage = scrape_coverage(warehouse.url(), catalog, SCRAPE_UP_QUERY, window.start, window.end)
    return dg.MaterializeResult(
        metadata=_metadata(report, prometheus.base_url),
        check_results=[_coverage_result(coverage)],
    )


def _metadata(report: LandingReport, base_url: str) -> dict[str, dg.MetadataValue]:
    return {
        "window_start": dg.MetadataValue.text(report.start.isoformat()),
        "window_end": dg.MetadataValue.text(report.end.isoformat()),
        "prometheus_url": dg.MetadataValue.text(base_url),
        "rows_landed": dg.MetadataValue.int(report.rows),
        "rows_replaced": dg.MetadataValue.int(report.deleted),
        "queries": dg.MetadataValue.int(len(report.queries)),
        "empty_queries": dg.MetadataValue.json(report.empty_queries),
        "windows_kept": dg.MetadataValue.json(
            [f"{a.isoformat()}..{b.isoformat()}" for a, b in report.kept_windows]
        ),
        "per_query": dg.MetadataValue.json(
            {
                q.name: {"series": q.series, "rows": q.rows, "null_values": q.null_values, "calls": q.calls}
                for q in report.queries.values()
            }
        ),
        "warnings": dg.MetadataValue.json(report.warnings[:50]),
    }


def _coverage_result(coverage: float | None) -> dg.AssetCheckResult:
    if coverage is None:
        return dg.AssetCheckResult(
            check_name=SCRAPE_COVERAGE_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"the catalog has no {SCRAPE_UP_QUERY} query: cannot tell missing data from no traffic",
        )
    return dg.AssetCheckResult(
        check_name=SCRAPE_COVERAGE_CHECK,
        passed=coverage >= MIN_SCRAPE_COVERAGE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"scrape_coverage": dg.MetadataValue.float(round(coverage, 6))},
        description=f"LiteLLM target up at {coverage:.1%} of the window's points (threshold {MIN_SCRAPE_COVERAGE:.0%})",
    )


prometheus_ingest_job = dg.define_asset_job("prometheus_ingest_job", selection=[ASSET_KEY])

# The schedule re-lands the last few complete hours each hour: Prometheus's data for an hour is
# final once its last scrape (15 s) is in, so one pass suffices; the extra hours heal a run that
# failed while Prometheus was briefly down. Longer outages need a backfill (README).
SCHEDULE_CRON = "5 * * * *"
REFRESH_HOURS = 3
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def recent_partition_range(tick: datetime, hours: int = REFRESH_HOURS) -> tuple[str, str]:
    """First and last partition keys of the ``hours`` complete hours before ``tick``."""
    end = tick.replace(minute=0, second=0, microsecond=0)
    first = hourly_partitions.get_partition_key_for_timestamp((end - timedelta(hours=hours)).timestamp())
    last = hourly_partitions.get_partition_key_for_timestamp((end - timedelta(hours=1)).timestamp())
    return first, last


@dg.schedule(
    name="prometheus_hourly_schedule",
    job=prometheus_ingest_job,
    cron_schedule=SCHEDULE_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def prometheus_hourly_schedule(context: ScheduleEvaluationContext) -> dg.RunRequest:
    first, last = recent_partition_range(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"{first}..{last}", tags={RANGE_START_TAG: first, RANGE_END_TAG: last})
