"""The API source lands exactly what the database source lands, through the /spend/logs/v2 contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from benchmark_pipeline.defs.litellm.landing import land_window
from benchmark_pipeline.defs.litellm.source_api import ApiSource, stage_row
from benchmark_pipeline.defs.litellm.source_db import DatabaseSource
from tests.pipeline import spendlog_rows as R
from tests.pipeline.fake_litellm_api import FakeSpendLogsApi

HOUR = timedelta(hours=1)
LANDABLE = (datetime(2025, 1, 1), datetime(2030, 1, 1))
COMPARED = """select request_id, start_time, end_time, completion_start_time, api_key, key_alias, model_group,
    model, custom_llm_provider, call_type, status, spend, prompt_tokens, completion_tokens, total_tokens,
    session_id, litellm_call_id, payload, _partition_key from raw.litellm_spend_logs order by request_id"""
COMPARED_REJECTED = """select request_id, partition_key, reason, payload from raw.litellm_spend_logs_rejected
    order by request_id, reason"""


def fetch(url: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()


def test_both_sources_land_identical_rows(
    litellm_url: str, warehouse_url: str, fake_api: FakeSpendLogsApi, make_database: Any
) -> None:
    leaky = R.failure_row("req-leaky", R.T0 + timedelta(minutes=20), message="bad key sk-proj-abcdefghijkl")
    leaky["metadata"]["spend_logs_metadata"] = {"Authorization": "Bearer xyz.abc"}
    R.insert_rows(litellm_url, [*R.standard_set(), *R.malformed_set(), leaky])
    R.insert_rows(litellm_url, [R.success_row("req-h11", R.T0 + HOUR + timedelta(minutes=7, milliseconds=1))])
    start, end = R.T0, R.T0 + 2 * HOUR
    api_warehouse = make_database("whapi")

    by_db = land_window(warehouse_url, DatabaseSource(litellm_url), start, end, landable=LANDABLE)
    by_api = land_window(
        api_warehouse, ApiSource(fake_api.base_url, "sk-test-master"), start, end, landable=LANDABLE
    )

    assert (by_db.inserted, by_db.rejected) == (by_api.inserted, by_api.rejected) == (7, 6)
    assert by_db.source_counts == by_api.source_counts == {R.T0: 12, R.T0 + HOUR: 1}
    assert fetch(warehouse_url, COMPARED) == fetch(api_warehouse, COMPARED)
    assert fetch(warehouse_url, COMPARED_REJECTED) == fetch(api_warehouse, COMPARED_REJECTED)
    sources = {r["_source"] for r in fetch(api_warehouse, "select _source from raw.litellm_spend_logs")}
    assert sources == {"litellm_api"}
    assert by_api.watermark_after is None  # the API has no created_at: no watermark


def test_busy_windows_are_split_under_the_page_size_and_tied_seconds_are_paged(
    litellm_url: str, warehouse_url: str, fake_api: FakeSpendLogsApi
) -> None:
    spread = [R.success_row(f"s-{i:04d}", R.T0 + timedelta(seconds=i)) for i in range(0, 3600, 3)]  # 1,200
    tied = [R.success_row(f"t-{i:02d}", R.T0 + timedelta(minutes=30, milliseconds=i)) for i in range(25)]
    with psycopg.connect(litellm_url, autocommit=True) as conn:
        R.insert_rows(conn, spread + tied)

    source = ApiSource(fake_api.base_url, "sk-test-master", page_size=10)
    result = land_window(warehouse_url, source, R.T0, R.T0 + HOUR, landable=LANDABLE)

    assert (result.fetched, result.inserted) == (1225, 1225)
    pages = [int(q["page"]) for q in fake_api.requests]
    assert max(pages) == 3  # the one second holding 25 rows > 10 per page was paged (3 pages)
    largest = max(
        (datetime.fromisoformat(q["end_date"]) - datetime.fromisoformat(q["start_date"])).total_seconds()
        for q in fake_api.requests
        if int(q["page"]) == 1 and q["start_date"] != q["end_date"]
    )
    assert largest == 3600  # the first request asks for the whole hour, then it is split


def test_an_unparsable_time_from_the_api_is_rejected_with_the_value(
    litellm_url: str, warehouse_url: str, fake_api: FakeSpendLogsApi
) -> None:
    row = R.success_row("api-garbage", R.T0 + timedelta(minutes=5))
    served = {k: v for k, v in row.items() if k not in ("created_at", "updated_at")}
    served["startTime"] = "yesterday-ish"
    served["endTime"] = served["endTime"].isoformat()
    served["completionStartTime"] = served["completionStartTime"].isoformat()
    fake_api.extra_rows.append((datetime(2026, 11, 20, 10, 5, tzinfo=UTC), served))

    result = land_window(
        warehouse_url, ApiSource(fake_api.base_url, "sk-test-master"), R.T0, R.T0 + HOUR, landable=LANDABLE
    )

    assert (result.inserted, result.rejected) == (0, 1)
    (rejected,) = fetch(warehouse_url, "select * from raw.litellm_spend_logs_rejected")
    assert rejected["reason"] == 'unparsable_timestamp: startTime "yesterday-ish" is not an ISO-8601 time'
    assert rejected["partition_key"] == "2026-11-20-10:00"
    assert rejected["payload"]["startTime"] == "yesterday-ish"
    assert rejected["_source"] == "litellm_api"


def test_stage_row_formats_times_like_the_database_source() -> None:
    row = stage_row(
        {
            "request_id": "x",
            "startTime": "2026-11-20T10:00:00.5+00:00",
            "metadata": {"a": 1},
            "spend": "0.25",
        },
        R.T0,
    )
    payload = json.loads(row[-4])
    assert payload["startTime"] == "2026-11-20T10:00:00.500Z"
    assert payload["spend"] == 0.25
    assert row[-3] == "object"


def test_the_api_live_path_compares_hourly_counts(
    litellm_url: str, warehouse_url: str, fake_api: FakeSpendLogsApi
) -> None:
    from benchmark_pipeline.defs.litellm.live import LivePlan, Skip, plan_api
    from benchmark_pipeline.defs.litellm.settings import IngestSettings

    now = R.T0 + timedelta(minutes=40)  # trailing 3 hours: 08:00, 09:00, 10:00
    settings = IngestSettings(api_trailing_hours=3)
    R.insert_rows(litellm_url, [R.success_row("a", R.T0 + timedelta(minutes=5))])

    def source() -> ApiSource:
        return ApiSource(fake_api.base_url, "sk-test-master")

    plan = plan_api(source(), warehouse_url, settings, LANDABLE, now)
    assert isinstance(plan, LivePlan)
    assert (plan.first_partition, plan.last_partition) == ("2026-11-20-10:00", "2026-11-20-10:00")
    land_window(warehouse_url, source(), plan.first_hour, plan.last_hour + HOUR, landable=LANDABLE)

    settled = plan_api(source(), warehouse_url, settings, LANDABLE, now)
    assert isinstance(settled, Skip)
    assert settled.reason == "the last 3 hours hold as many rows in LiteLLM as in the warehouse"

    R.insert_rows(litellm_url, [R.success_row("late", R.T0 - timedelta(minutes=50))])  # hour 09
    again = plan_api(source(), warehouse_url, settings, LANDABLE, now)
    assert isinstance(again, LivePlan)
    assert (again.first_partition, again.last_partition) == ("2026-11-20-09:00", "2026-11-20-09:00")
