"""Sensors: the live path (new spend-log rows) and finalized sessions (land their whole window)."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at import time
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from benchmark_pipeline.defs.litellm.assets import RAW_SPEND_LOGS, landable_range
from benchmark_pipeline.defs.litellm.landing import partition_key
from benchmark_pipeline.defs.litellm.live import LivePlan, Skip, plan_api, plan_database
from benchmark_pipeline.defs.litellm.settings import IngestSettings
from benchmark_pipeline.defs.litellm.source_api import ApiSource
from benchmark_pipeline.defs.litellm.sources import NOT_CONFIGURED, open_source
from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
LIVE_REQUEST_TAG = "harness_bench/live_request"
SESSIONS_TAG = "harness_bench/finalized_sessions"
HOUR = timedelta(hours=1)

# What each sensor materializes. Module-level so downstream work can extend them (e.g. the dbt
# models that must refresh when a session is finalized): append AssetKeys here.
LIVE_SELECTION: list[dg.AssetKey] = [RAW_SPEND_LOGS]
FINALIZED_SESSION_SELECTION: list[dg.AssetKey] = [
    RAW_SPEND_LOGS,
    # dbt (benchmark_pipeline/defs/dbt) over the same range, then the statistics: the session's marts
    dg.AssetKey("fct_requests"),
    dg.AssetKey("int_session_request_rollups"),
    dg.AssetKey("int_variant_request_percentiles"),
    dg.AssetKey("fct_sessions"),
    dg.AssetKey("fct_variant_summary"),
    dg.AssetKey("fct_request_count_reconciliation"),
    dg.AssetKey("fct_variant_comparison"),
]

IN_PROGRESS = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}
FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def live_run_key(instance: dg.DagsterInstance, base: str) -> str | dg.SkipReason:
    """``base``, or ``base:retryN`` after N failed runs for it; a skip while one is running or after
    one succeeded (Dagster never launches two runs with one run_key, even after a failure)."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={LIVE_REQUEST_TAG: base}))
    running = [r for r in runs if r.status in IN_PROGRESS]
    if running:
        return dg.SkipReason(f"run {running[0].run_id} for {base} is still in progress")
    if any(r.status == dg.DagsterRunStatus.SUCCESS for r in runs):
        return dg.SkipReason(f"{base} already landed; waiting for new rows")
    failed = sum(1 for r in runs if r.status in FAILED)
    return base if failed == 0 else f"{base}:retry{failed}"


@dg.sensor(
    name="litellm_live_sensor",
    minimum_interval_seconds=30,
    asset_selection=LIVE_SELECTION,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Every 30 s: one run over the hourly partitions holding LiteLLM rows that changed after the "
        "landed watermark (minus a lookback), or whose counts fall behind LiteLLM's. See live.py."
    ),
)
def litellm_live_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, litellm_source: LiteLLMSourceResource
) -> dg.SensorResult | dg.SkipReason:
    if litellm_source.kind() is None:
        return dg.SkipReason(NOT_CONFIGURED)
    settings = IngestSettings.from_env()
    source = open_source(litellm_source, settings)
    if isinstance(source, ApiSource):
        plan = plan_api(source, warehouse.url(), settings, landable_range(), datetime.now(UTC))
    else:
        plan = plan_database(source, warehouse.url(), settings, landable_range())
    if isinstance(plan, Skip):
        return dg.SkipReason(plan.reason)
    run_key = live_run_key(context.instance, plan.key)
    if isinstance(run_key, dg.SkipReason):
        return run_key
    context.log.info(f"{plan.first_partition}..{plan.last_partition}: {plan.reason}")
    return dg.SensorResult(
        run_requests=[_live_request(plan, run_key)],
        cursor=json.dumps({"last_request": plan.key, "reason": plan.reason}),
    )


def _live_request(plan: LivePlan, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        tags={
            **range_tags(plan.first_partition, plan.last_partition),
            LIVE_REQUEST_TAG: plan.key,
            "harness_bench/reason": plan.reason[:200],
        },
    )


# --- finalized sessions -------------------------------------------------------------------------

# a session whose end committed a little after a later one's must still be seen: re-read this far
# back from the cursor (those already requested are remembered in the cursor)
SESSION_OVERLAP = timedelta(minutes=10)
FIRST_TICK_HISTORY = timedelta(days=1)


@dataclass(frozen=True)
class FinalizedSession:
    session_id: str
    started_at: datetime  # aware UTC
    ended_at: datetime


def finalized_sessions(
    warehouse_url: str, since: datetime, settle_seconds: int
) -> list[FinalizedSession] | str:
    """Sessions that ended after ``since`` and at least ``settle_seconds`` ago (read-only), or why not."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        exists = conn.execute("select to_regclass('registry.sessions') is not null").fetchone()
        if not exists or not exists[0]:
            return "registry.sessions does not exist yet (the registry is not migrated)"
        rows = conn.execute(
            """select session_id::text, started_at, ended_at from registry.sessions
            where ended_at is not null and ended_at > %s
              and ended_at <= now() - make_interval(secs => %s)
            order by ended_at, session_id""",
            (since, settle_seconds),
        ).fetchall()
    return [FinalizedSession(*row) for row in rows]


def session_ranges(
    sessions: Sequence[FinalizedSession], grace: timedelta, landable: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime, list[str]]]:
    """Hour ranges [first, last] (naive UTC) covering each session's [started_at, ended_at + grace],
    overlapping or adjacent ranges merged, clamped to the partition range."""
    spans = []
    lo, hi = landable
    for s in sessions:
        first = _hour(s.started_at)
        last = _hour(s.ended_at + grace)
        first, last = max(first, lo), min(last, hi - HOUR)
        if first <= last:
            spans.append((first, last, s.session_id))
    spans.sort()
    merged: list[tuple[datetime, datetime, list[str]]] = []
    for first, last, sid in spans:
        if merged and first <= merged[-1][1] + HOUR:
            prev_first, prev_last, ids = merged[-1]
            merged[-1] = (prev_first, max(prev_last, last), [*ids, sid])
        else:
            merged.append((first, last, [sid]))
    return merged


@dg.sensor(
    name="finalized_sessions_sensor",
    minimum_interval_seconds=60,
    asset_selection=FINALIZED_SESSION_SELECTION,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "When a session is finalized in the registry (ended_at set, BENCHMARK_SESSION_SETTLE_SECONDS "
        "ago), lands the hours covering [started_at, ended_at + BENCHMARK_SESSION_GRACE_SECONDS]."
    ),
)
def finalized_sessions_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    settings = IngestSettings.from_env()
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    seen_until = (
        datetime.fromisoformat(cursor["ended_at"]) if cursor.get("ended_at") else now - FIRST_TICK_HISTORY
    )
    recent: dict[str, str] = cursor.get("recent", {})
    found = finalized_sessions(warehouse.url(), seen_until - SESSION_OVERLAP, settings.session_settle_seconds)
    if isinstance(found, str):
        return dg.SkipReason(found)
    new = [s for s in found if recent.get(s.session_id) != s.ended_at.isoformat()]
    if not new:
        return dg.SkipReason(f"no session finalized since {seen_until.isoformat()}")
    requests = []
    for first, last, ids in session_ranges(
        new, timedelta(seconds=settings.session_grace_seconds), landable_range()
    ):
        key = f"sessions:{partition_key(first)}..{partition_key(last)}:" + ",".join(sorted(ids))
        requests.append(
            dg.RunRequest(
                run_key=key[:500],
                tags={
                    **range_tags(partition_key(first), partition_key(last)),
                    SESSIONS_TAG: ",".join(ids)[:4000],
                },
            )
        )
    newest = max(s.ended_at for s in found)
    keep_after = newest - SESSION_OVERLAP
    recent = {
        **{k: v for k, v in recent.items() if datetime.fromisoformat(v) > keep_after},
        **{s.session_id: s.ended_at.isoformat() for s in new},
    }
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps({"ended_at": max(newest, seen_until).isoformat(), "recent": recent}),
    )


def _hour(ts: datetime) -> datetime:
    naive = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo is not None else ts
    return naive.replace(minute=0, second=0, microsecond=0)
