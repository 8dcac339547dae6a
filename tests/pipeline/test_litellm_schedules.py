"""The finalized-sessions sensor and the late-data schedule: which partitions they ask for, and when."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from benchmark_pipeline.defs.litellm.assets import raw_litellm_spend_logs
from benchmark_pipeline.defs.litellm.schedules import litellm_late_data_schedule, recent_range
from benchmark_pipeline.defs.litellm.sensors import (
    FINALIZED_SESSION_SELECTION,
    SESSIONS_TAG,
    FinalizedSession,
    finalized_sessions_sensor,
    session_ranges,
)
from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource

LANDABLE = (datetime(2025, 1, 1), datetime(2030, 1, 1))
GRACE = timedelta(minutes=15)


def add_session(url: str, started: datetime, ended: datetime | None) -> str:
    session_id = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """insert into registry.sessions (session_id, experiment, variant, task_card, harness, provider,
                model_alias, status, started_at, ended_at, litellm_base_url, key_backend, key_alias, key_hash,
                config_fingerprints)
            values (%s, 'exp', 'var', 'card', 'claude-code', 'openai', 'gpt-4o', %s, %s, %s,
                'http://localhost:4000', 'local', %s, %s, '{}')""",
            (
                session_id,
                "completed" if ended else "active",
                started,
                ended,
                f"hb-{session_id}",
                uuid.uuid4().hex + uuid.uuid4().hex,
            ),
        )
    return session_id


def tick(
    instance: dg.DagsterInstance, url: str, cursor: str | None = None
) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource(database_url=url)}
    )
    return finalized_sessions_sensor(context)


def at(hours_ago: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours_ago)


def test_a_finalized_session_requests_its_hours_plus_the_grace(
    registry_warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    started = at(5).replace(minute=20, second=0, microsecond=0)
    ended = started + timedelta(hours=1, minutes=50)  # ends at :10, grace pushes into the next hour
    sid = add_session(registry_warehouse_url, started, ended)
    add_session(registry_warehouse_url, at(1), None)  # still active: not finalized

    result = tick(instance, registry_warehouse_url)

    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    first_hour = started.replace(minute=0)
    last_hour = (ended + GRACE).replace(minute=0)
    assert request.tags["dagster/asset_partition_range_start"] == first_hour.strftime("%Y-%m-%d-%H:00")
    assert request.tags["dagster/asset_partition_range_end"] == last_hour.strftime("%Y-%m-%d-%H:00")
    assert last_hour - first_hour == timedelta(hours=2)
    assert request.tags[SESSIONS_TAG] == sid

    again = tick(instance, registry_warehouse_url, result.cursor)
    assert isinstance(again, dg.SkipReason)  # the cursor remembers it
    assert json.loads(result.cursor)["ended_at"] == ended.isoformat()


def test_a_session_is_requested_only_after_it_settled(
    registry_warehouse_url: str, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCHMARK_SESSION_SETTLE_SECONDS", "600")
    add_session(registry_warehouse_url, at(1), at(0.05))  # ended 3 minutes ago
    result = tick(instance, registry_warehouse_url)
    assert isinstance(result, dg.SkipReason)


def test_without_a_registry_the_sensor_says_so(warehouse_url: str, instance: dg.DagsterInstance) -> None:
    result = tick(instance, warehouse_url)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "registry.sessions does not exist yet (the registry is not migrated)"


def test_overlapping_sessions_share_one_run_and_distant_ones_get_their_own() -> None:
    t = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    sessions = [
        FinalizedSession("a", t, t + timedelta(minutes=40)),  # 09:30-10:10 (+grace 10:25): hours 09-10
        FinalizedSession(
            "b", t + timedelta(minutes=50), t + timedelta(hours=2)
        ),  # 10:20-11:30 (+grace 11:45)
        FinalizedSession("c", t + timedelta(hours=8), t + timedelta(hours=9)),  # 17:30-18:30
    ]
    ranges = session_ranges(sessions, GRACE, LANDABLE)
    assert [(f.strftime("%H"), last.strftime("%H"), ids) for f, last, ids in ranges] == [
        ("09", "11", ["a", "b"]),
        ("17", "18", ["c"]),
    ]


def test_the_selection_constant_is_what_the_sensor_targets() -> None:
    from benchmark_pipeline.definitions import defs

    targeted = finalized_sessions_sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert targeted == set(FINALIZED_SESSION_SELECTION)
    assert raw_litellm_spend_logs.key in targeted


def test_the_late_data_schedule_relands_the_current_hour_and_three_before() -> None:
    tick_time = datetime(2026, 11, 20, 14, 20, tzinfo=UTC)
    assert recent_range(tick_time, 3) == ("2026-11-20-11:00", "2026-11-20-14:00")
    context = dg.build_schedule_context(
        scheduled_execution_time=tick_time,
        resources={"litellm_source": LiteLLMSourceResource(database_url="postgresql://unused/db")},
    )
    request = litellm_late_data_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "late:2026-11-20-11:00..2026-11-20-14:00"
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-20-11:00"
