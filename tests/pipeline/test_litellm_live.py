"""The live path: sensor ticks and the runs they request, late rows, and LiteLLM's database failing mid-run."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import dagster as dg
import psycopg
import pytest

from benchmark_pipeline.defs.litellm.assets import raw_litellm_spend_logs
from benchmark_pipeline.defs.litellm.landing import read_watermark
from benchmark_pipeline.defs.litellm.sensors import LIVE_REQUEST_TAG, litellm_live_sensor
from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource
from tests.pipeline import spendlog_rows as R
from tests.pipeline.resources import litellm_resources as resources
from tests.pipeline.tcp_proxy import TcpProxy

HOUR = timedelta(hours=1)


def tick(instance: dg.DagsterInstance, warehouse_url: str, litellm_url: str) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources=resources(warehouse_url, litellm_url))
    result = litellm_live_sensor(context)
    if isinstance(result, dg.SkipReason):
        return result
    (request,) = result.run_requests
    return request


def launch(
    request: dg.RunRequest, instance: dg.DagsterInstance, warehouse_url: str, litellm_url: str
) -> dg.ExecuteInProcessResult:
    """What the daemon does with a sensor's request: run it, tagged with its run key."""
    return dg.materialize(
        [raw_litellm_spend_logs],
        resources=resources(warehouse_url, litellm_url),
        tags={**request.tags, "dagster/run_key": request.run_key},
        instance=instance,
        raise_on_error=False,
    )


def watermark(warehouse_url: str) -> datetime | None:
    with psycopg.connect(warehouse_url) as conn:
        return read_watermark(conn)


def landed_ids(warehouse_url: str) -> set[str]:
    with psycopg.connect(warehouse_url) as conn:
        if not conn.execute("select to_regclass('raw.litellm_spend_logs') is not null").fetchone()[0]:
            return set()
        return {r[0] for r in conn.execute("select request_id from raw.litellm_spend_logs")}


def test_a_row_written_late_with_an_old_start_time_is_landed(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(
        litellm_url,
        [
            R.success_row(
                "a", R.T0 + timedelta(minutes=1), created_at=R.T0 + timedelta(minutes=1, seconds=8)
            ),
            R.success_row(
                "b", R.T0 + timedelta(minutes=2), created_at=R.T0 + timedelta(minutes=2, seconds=8)
            ),
        ],
    )
    first = tick(instance, warehouse_url, litellm_url)
    assert isinstance(first, dg.RunRequest)
    assert (
        first.tags["dagster/asset_partition_range_start"],
        first.tags["dagster/asset_partition_range_end"],
    ) == (
        "2026-11-20-10:00",
        "2026-11-20-10:00",
    )
    assert launch(first, instance, warehouse_url, litellm_url).success
    assert landed_ids(warehouse_url) == {"a", "b"}
    assert watermark(warehouse_url) == R.T0 + timedelta(minutes=2, seconds=8)

    settled = tick(instance, warehouse_url, litellm_url)
    assert isinstance(settled, dg.SkipReason)
    assert "are landed" in settled.skip_message

    # a 100-minute request started at 08:35 and was written when it ended, long after hour 08 closed
    late = R.success_row(
        "late",
        R.T0 - timedelta(minutes=85),
        latency_ms=100 * 60_000,
        created_at=R.T0 + timedelta(minutes=15, seconds=5),
    )
    R.insert_rows(litellm_url, [late])

    request = tick(instance, warehouse_url, litellm_url)
    assert isinstance(request, dg.RunRequest)
    assert (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    ) == (
        "2026-11-20-08:00",
        "2026-11-20-08:00",
    )
    assert launch(request, instance, warehouse_url, litellm_url).success
    assert landed_ids(warehouse_url) == {"a", "b", "late"}
    assert watermark(warehouse_url) == R.T0 + timedelta(minutes=15, seconds=5)
    assert isinstance(tick(instance, warehouse_url, litellm_url), dg.SkipReason)


def test_a_row_committed_with_a_change_time_below_the_watermark_is_caught_by_the_counts(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(litellm_url, [R.success_row("a", R.T0, created_at=R.T0 + timedelta(minutes=5))])
    assert launch(tick(instance, warehouse_url, litellm_url), instance, warehouse_url, litellm_url).success
    # a batch whose transaction started (created_at) before "a" but committed after the run read
    R.insert_rows(litellm_url, [R.success_row("slow-commit", R.T0, created_at=R.T0 + timedelta(minutes=4))])

    request = tick(instance, warehouse_url, litellm_url)

    assert isinstance(request, dg.RunRequest)  # inside the lookback, and the hour's counts disagree
    assert launch(request, instance, warehouse_url, litellm_url).success
    assert landed_ids(warehouse_url) == {"a", "slow-commit"}


def test_litellm_down_mid_run_fails_clearly_keeps_the_watermark_and_the_next_run_catches_up(
    litellm_url: str,
    litellm_proxy: TcpProxy,
    warehouse_url: str,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCHMARK_INGEST_PAGE_ROWS", "3")  # several pages: the cut lands mid-read
    R.insert_rows(litellm_url, [R.success_row("first", R.T0, created_at=R.T0 + timedelta(seconds=3))])
    assert launch(
        tick(instance, warehouse_url, litellm_proxy.url), instance, warehouse_url, litellm_proxy.url
    ).success
    before = watermark(warehouse_url)
    R.insert_rows(
        litellm_url,
        [
            R.success_row(
                f"new-{i}", R.T0 + timedelta(minutes=i), created_at=R.T0 + timedelta(minutes=30, seconds=i)
            )
            for i in range(1, 11)
        ],
    )
    request = tick(instance, warehouse_url, litellm_proxy.url)
    assert isinstance(request, dg.RunRequest)

    litellm_proxy.cut_after(15_000)  # the server goes away after ~15 kB: a page or two into the read
    failed = launch(request, instance, warehouse_url, litellm_proxy.url)

    assert not failed.success and litellm_proxy.cuts == 1
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"LiteLLM's database postgresql://postgres@127.0.0.1:{litellm_proxy.port}/")
    assert re.search(
        r"failed while (reading|finding) page \d+ of 2026-11-20 10:00..2026-11-20 11:00 UTC", message
    )
    assert "nothing of this run was landed and the watermark did not move" in message
    assert watermark(warehouse_url) == before
    assert landed_ids(warehouse_url) == {"first"}  # nothing half-landed

    litellm_proxy.restore()
    retry = tick(instance, warehouse_url, litellm_proxy.url)
    assert isinstance(retry, dg.RunRequest)
    assert retry.run_key == f"{request.run_key}:retry1"  # a new key: Dagster never reruns a used one
    assert retry.tags[LIVE_REQUEST_TAG] == request.tags[LIVE_REQUEST_TAG]
    assert launch(retry, instance, warehouse_url, litellm_proxy.url).success
    assert landed_ids(warehouse_url) == {"first"} | {f"new-{i}" for i in range(1, 11)}
    assert watermark(warehouse_url) == R.T0 + timedelta(minutes=30, seconds=10)


def test_the_sensor_skips_while_a_run_for_the_same_rows_is_in_progress(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(litellm_url, [R.success_row("a", R.T0)])
    request = tick(instance, warehouse_url, litellm_url)
    assert isinstance(request, dg.RunRequest)
    instance.add_run(  # a run the daemon launched for it, still going
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id="running-run",
            status=dg.DagsterRunStatus.STARTED,
            tags=dict(request.tags),
        )
    )
    skipped = tick(instance, warehouse_url, litellm_url)
    assert isinstance(skipped, dg.SkipReason)
    assert (
        skipped.skip_message == f"run running-run for {request.tags[LIVE_REQUEST_TAG]} is still in progress"
    )


def test_without_a_source_the_sensor_says_what_to_set(
    warehouse_url: str, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LITELLM_DATABASE_URL", "LITELLM_MASTER_KEY", "BENCHMARK_LITELLM_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    context = dg.build_sensor_context(
        instance=instance,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "litellm_source": LiteLLMSourceResource(),
        },
    )
    result = litellm_live_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith("no LiteLLM spend-log source is configured")


def test_rows_older_than_the_maximum_age_are_left_to_backfills(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    R.insert_rows(litellm_url, [R.success_row("a", R.T0, created_at=R.T0 + timedelta(minutes=1))])
    assert launch(tick(instance, warehouse_url, litellm_url), instance, warehouse_url, litellm_url).success
    # written now, started 30 hours before the watermark: beyond the default 24 h the scans cover
    R.insert_rows(
        litellm_url,
        [R.success_row("ancient", R.T0 - timedelta(hours=30), created_at=R.T0 + timedelta(minutes=5))],
    )
    assert isinstance(tick(instance, warehouse_url, litellm_url), dg.SkipReason)

    monkeypatch.setenv("BENCHMARK_INGEST_MAX_AGE_HOURS", "48")
    request = tick(instance, warehouse_url, litellm_url)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-19-04:00"
