"""The ``raw_litellm_spend_logs`` asset, its reconciliation check and the live-path freshness check."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at import time
from datetime import datetime, timedelta

import dagster as dg
import psycopg

from benchmark_pipeline.defs.litellm.landing import (
    LandingResult,
    hours,
    land_window,
    read_watermark,
    warehouse_counts,
)
from benchmark_pipeline.defs.litellm.reconcile import Reconciliation, reconcile
from benchmark_pipeline.defs.litellm.settings import IngestSettings
from benchmark_pipeline.defs.litellm.source_api import ApiSource
from benchmark_pipeline.defs.litellm.sources import NOT_CONFIGURED, open_source
from benchmark_pipeline.partitions import hourly_partitions
from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource
from benchmark_pipeline.utc import naive_utc
from session_cli.errors import BenchmarkError

RAW_SPEND_LOGS = dg.AssetKey("raw_litellm_spend_logs")
TABLE = "raw.litellm_spend_logs"
REJECTED_TABLE = "raw.litellm_spend_logs_rejected"
RECONCILIATION_CHECK = "reconciles_with_source"
FRESHNESS_CHECK = "live_path_fresh"


def landable_range() -> tuple[datetime, datetime]:
    """[first partition start, last partition end) as naive UTC: the startTimes a run can land."""
    first = hourly_partitions.time_window_for_partition_key(hourly_partitions.get_first_partition_key())
    last_key = hourly_partitions.get_last_partition_key()
    last = hourly_partitions.time_window_for_partition_key(last_key) if last_key else first
    return naive_utc(first.start), naive_utc(last.end)


@dg.asset(
    key=RAW_SPEND_LOGS,
    group_name="raw",
    partitions_def=hourly_partitions,
    # a backfill over any range is one run: one source snapshot, one transaction, one watermark move
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"postgres"},
    check_specs=[
        dg.AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset=RAW_SPEND_LOGS,
            description=(
                "Per hourly partition of the run: rows in LiteLLM's window (same snapshot as the read) "
                f"= rows in {TABLE} + rows in {REJECTED_TABLE}. Fails when source rows are missing; "
                "warns when the warehouse holds more (LiteLLM's retention deleted some)."
            ),
        )
    ],
    description=(
        f"LiteLLM spend logs: one row per request (request_id) in {TABLE}, typed key columns plus the "
        "whole row as jsonb (content columns dropped, secrets redacted); malformed rows in "
        f"{REJECTED_TABLE} with a reason. Hourly partitions on startTime (UTC). Source: LiteLLM's "
        '"LiteLLM_SpendLogs" table (LITELLM_DATABASE_URL), else GET /spend/logs/v2.'
    ),
    metadata={
        "table": TABLE,
        "rejected_table": REJECTED_TABLE,
        "grain": "one row per LiteLLM request (request_id)",
        "partitioned_on": "startTime (UTC hour)",
    },
)
def raw_litellm_spend_logs(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, litellm_source: LiteLLMSourceResource
) -> dg.MaterializeResult:
    try:
        return _land(context, warehouse, litellm_source)
    except BenchmarkError as exc:
        # the run's failure reads as the one-line message and its hint, not a wrapped traceback
        raise dg.Failure(
            description=f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message,
            metadata={"error": dg.MetadataValue.text(type(exc).__name__)},
        ) from exc


def _land(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, litellm_source: LiteLLMSourceResource
) -> dg.MaterializeResult:
    settings = IngestSettings.from_env()
    window = context.partition_time_window
    source = open_source(litellm_source, settings)
    context.log.info(
        f"landing {window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M} UTC from {source.describe()}"
    )
    result = land_window(
        warehouse.url(),
        source,
        window.start,
        window.end,
        landable=landable_range(),
        max_age=timedelta(hours=settings.max_age_hours),
        run_id=context.run.run_id,
        log=context.log.info,
    )
    check = reconcile(result.source_counts, warehouse_counts(warehouse.url(), window.start, window.end))
    context.log.info(check.describe())
    return dg.MaterializeResult(metadata=_metadata(result, check), check_results=[_check_result(check)])


def _metadata(result: LandingResult, check: Reconciliation) -> dict[str, dg.MetadataValue]:
    def ts(value: datetime | None) -> dg.MetadataValue:
        return dg.MetadataValue.text(value.isoformat() if value else "none")

    return {
        "source": dg.MetadataValue.text(result.source),
        "window_start": dg.MetadataValue.text(result.window_start.isoformat()),
        "window_end": dg.MetadataValue.text(result.window_end.isoformat()),
        "partitions": dg.MetadataValue.int(len(hours(result.window_start, result.window_end))),
        "rows_fetched": dg.MetadataValue.int(result.fetched),
        "rows_inserted": dg.MetadataValue.int(result.inserted),
        "rows_landed_directly": dg.MetadataValue.int(result.direct_rows),
        "rows_updated": dg.MetadataValue.int(result.updated),
        "rows_unchanged": dg.MetadataValue.int(result.unchanged),
        "rows_rejected": dg.MetadataValue.int(result.rejected),
        "rejected_by_reason": dg.MetadataValue.json(result.rejected_by_reason),
        "rows_superseded_by_rejection": dg.MetadataValue.int(result.superseded),
        "rows_screened_for_secrets": dg.MetadataValue.int(result.screened_rows),
        "pages": dg.MetadataValue.int(result.pages),
        "watermark_before": ts(result.watermark_before),
        "watermark_after": ts(result.watermark_after),
        "source_rows": dg.MetadataValue.int(check.source_rows),
        "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
        "wait_seconds": dg.MetadataValue.float(round(result.wait_seconds, 3)),
        "stage_seconds": dg.MetadataValue.float(round(result.stage_seconds, 3)),
        "merge_seconds": dg.MetadataValue.float(round(result.merge_seconds, 3)),
    }


def _check_result(check: Reconciliation) -> dg.AssetCheckResult:
    mismatches = [
        {"partition": m.partition, "source": m.source, "landed": m.landed, "rejected": m.rejected}
        for m in (check.missing or check.surplus)[:50]
    ]
    return dg.AssetCheckResult(
        check_name=RECONCILIATION_CHECK,
        passed=check.passed and not check.surplus,
        # rows missing is an error; the warehouse holding more than LiteLLM (retention) only a warning
        severity=dg.AssetCheckSeverity.WARN
        if check.surplus and not check.missing
        else dg.AssetCheckSeverity.ERROR,
        description=check.describe(),
        metadata={
            "hours": dg.MetadataValue.int(check.hours),
            "source_rows": dg.MetadataValue.int(check.source_rows),
            "landed_rows": dg.MetadataValue.int(check.landed_rows),
            "rejected_rows": dg.MetadataValue.int(check.rejected_rows),
            "mismatches": dg.MetadataValue.json(mismatches),
        },
    )


@dg.asset_check(
    asset=RAW_SPEND_LOGS,
    name=FRESHNESS_CHECK,
    description=(
        "The live path keeps up: the newest change in LiteLLM's table is at most "
        "BENCHMARK_INGEST_FRESHNESS_SECONDS (default 900) past the landed watermark (database source), "
        "or the newest startTime LiteLLM's API serves is landed within that time (API source)."
    ),
)
def live_path_fresh(
    warehouse: WarehouseResource, litellm_source: LiteLLMSourceResource
) -> dg.AssetCheckResult:
    settings = IngestSettings.from_env()
    limit = settings.freshness_seconds
    kind = litellm_source.kind()
    if kind is None:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, description=NOT_CONFIGURED
        )
    source = open_source(litellm_source, settings)
    if isinstance(source, ApiSource):
        with source:
            latest = source.latest_start()
        landed = _latest_landed_start(warehouse.url())
        return _freshness(
            latest, landed, limit, "newest startTime in LiteLLM's API", "newest landed startTime"
        )
    with source:
        latest = source.max_changed(timedelta(hours=settings.max_age_hours))
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        watermark = read_watermark(conn)
    return _freshness(latest, watermark, limit, "newest change in LiteLLM", "landed watermark")


def _freshness(
    latest: datetime | None, landed: datetime | None, limit: int, latest_name: str, landed_name: str
) -> dg.AssetCheckResult:
    if latest is None:
        return dg.AssetCheckResult(passed=True, description="LiteLLM has no spend logs yet: nothing to land")
    if landed is None:
        return dg.AssetCheckResult(
            passed=False,
            description=f"nothing landed yet while LiteLLM has rows ({latest_name} {latest.isoformat()})",
            metadata={"lag_seconds": dg.MetadataValue.float(-1.0)},
        )
    lag = max((latest - landed).total_seconds(), 0.0)
    return dg.AssetCheckResult(
        passed=lag <= limit,
        description=(
            f"{latest_name} {latest.isoformat()}, {landed_name} {landed.isoformat()}: "
            f"{lag:.0f} s behind (limit {limit} s)"
        ),
        metadata={
            "lag_seconds": dg.MetadataValue.float(round(lag, 3)),
            "limit_seconds": dg.MetadataValue.int(limit),
        },
    )


def _latest_landed_start(warehouse_url: str) -> datetime | None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        if not conn.execute("select to_regclass('raw.litellm_spend_logs') is not null").fetchone()[0]:  # type: ignore[index]
            return None
        row = conn.execute("select max(start_time) from raw.litellm_spend_logs").fetchone()
    return naive_utc(row[0]) if row and row[0] else None
