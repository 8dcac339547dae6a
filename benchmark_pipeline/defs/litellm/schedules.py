"""Schedules: the late-data backstop and the live path's freshness check."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from benchmark_pipeline.defs.litellm.assets import RAW_SPEND_LOGS, landable_range, live_path_fresh
from benchmark_pipeline.defs.litellm.landing import partition_key
from benchmark_pipeline.defs.litellm.sensors import range_tags
from benchmark_pipeline.defs.litellm.settings import IngestSettings
from benchmark_pipeline.defs.litellm.sources import NOT_CONFIGURED
from benchmark_pipeline.resources import LiteLLMSourceResource

# hourly-partitioned: Dagster infers the partitions from the selected asset
spend_logs_job = dg.define_asset_job("litellm_spend_logs_job", selection=[RAW_SPEND_LOGS])
freshness_job = dg.define_asset_job(
    "litellm_freshness_job", selection=dg.AssetSelection.checks(live_path_fresh)
)

# Hourly at :20, re-land the current hour and the BENCHMARK_INGEST_SCHEDULE_HOURS (default 3) before
# it. The live sensor normally lands everything within a minute; this catches what it cannot see:
# rows committed later than the lookback allows, and any hour whose live run failed. A replay of
# unchanged rows touches nothing (rows are only rewritten when their payload changed).
LATE_DATA_CRON = "20 * * * *"


def recent_range(tick: datetime, hours: int) -> tuple[str, str]:
    current = tick.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    lo, hi = landable_range()
    first = max(current - timedelta(hours=hours), lo)
    last = min(current, hi - timedelta(hours=1))
    return partition_key(first), partition_key(last)


@dg.schedule(
    name="litellm_late_data_schedule",
    job=spend_logs_job,
    cron_schedule=LATE_DATA_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-lands the current hour and the previous BENCHMARK_INGEST_SCHEDULE_HOURS (default 3).",
)
def litellm_late_data_schedule(
    context: dg.ScheduleEvaluationContext, litellm_source: LiteLLMSourceResource
) -> dg.RunRequest | dg.SkipReason:
    if litellm_source.kind() is None:
        return dg.SkipReason(NOT_CONFIGURED)
    first, last = recent_range(context.scheduled_execution_time, IngestSettings.from_env().schedule_hours)
    return dg.RunRequest(run_key=f"late:{first}..{last}", tags=range_tags(first, last))


@dg.schedule(
    name="litellm_freshness_schedule",
    job=freshness_job,
    cron_schedule="*/10 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Evaluates the live_path_fresh check every 10 minutes.",
)
def litellm_freshness_schedule(
    context: dg.ScheduleEvaluationContext, litellm_source: LiteLLMSourceResource
) -> dg.RunRequest | dg.SkipReason:
    if litellm_source.kind() is None:
        return dg.SkipReason(NOT_CONFIGURED)
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
