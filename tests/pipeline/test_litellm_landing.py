"""Landing LiteLLM's real spend-log table into raw.*: exact counts, reasons, replays, redaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from benchmark_pipeline.defs.litellm.columns import COLUMNS
from benchmark_pipeline.defs.litellm.landing import LandingResult, land_window, warehouse_counts
from benchmark_pipeline.defs.litellm.source_db import DatabaseSource
from tests.pipeline import spendlog_rows as R

HOUR = timedelta(hours=1)
LANDABLE = (datetime(2025, 1, 1), datetime(2030, 1, 1))


def land(
    litellm_url: str, warehouse_url: str, start: datetime = R.T0, end: datetime | None = None, **kw: Any
) -> LandingResult:
    return land_window(
        warehouse_url,
        DatabaseSource(litellm_url, page_rows=kw.pop("page_rows", 25_000)),
        start,
        end or start + HOUR,
        landable=LANDABLE,
        **kw,
    )


def rows(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query, args).fetchall()


def test_real_shapes_land_and_malformed_rows_are_rejected_with_reasons(
    litellm_url: str, warehouse_url: str
) -> None:
    R.insert_rows(litellm_url, R.standard_set() + R.malformed_set())
    # a row of the next hour stays out of this window
    R.insert_rows(litellm_url, [R.success_row("req-next-hour", R.T0 + HOUR + timedelta(minutes=1))])

    result = land(litellm_url, warehouse_url)

    assert (result.fetched, result.inserted, result.updated, result.rejected) == (11, 5, 0, 6)
    assert result.direct_rows == 5  # a first landing: the good rows skip the stage, the rest take it
    assert result.rejected_by_reason == {
        "missing_request_id": 1,
        "inverted_timestamps": 1,
        "negative_tokens": 1,
        "metadata_not_object": 2,
        "oversize_row": 1,
    }
    assert result.source_counts == {R.T0: 11}
    landed = {r["request_id"]: r for r in rows(warehouse_url, "select * from raw.litellm_spend_logs")}
    assert sorted(landed) == [
        "req-anthropic-cached",
        "req-failure",
        "req-openai-cached",
        "req-streamed",
        "req-success",
    ]

    reasons = {
        r["request_id"]: (r["reason"], r["partition_key"], r["_source"])
        for r in rows(warehouse_url, "select * from raw.litellm_spend_logs_rejected")
    }
    assert reasons == {
        "": ("missing_request_id: request_id is empty", "2026-11-20-10:00", "litellm_db"),
        "bad-inverted": (
            "inverted_timestamps: endTime 2026-11-20T10:10:58.000Z is before startTime 2026-11-20T10:11:00.000Z",
            "2026-11-20-10:00",
            "litellm_db",
        ),
        "bad-negative": ("negative_tokens: prompt_tokens = -5", "2026-11-20-10:00", "litellm_db"),
        "bad-md-string": (
            "metadata_not_object: metadata is a JSON string, expected an object",
            "2026-11-20-10:00",
            "litellm_db",
        ),
        "bad-md-array": (
            "metadata_not_object: metadata is a JSON array, expected an object",
            "2026-11-20-10:00",
            "litellm_db",
        ),
        # 300,000 x's + the row's other metadata; the rest of the row adds the remainder
        "bad-oversize": (reasons["bad-oversize"][0], "2026-11-20-10:00", "litellm_db"),
    }
    assert reasons["bad-oversize"][0].startswith("oversize_row: the row is ")
    assert "bytes as JSON (limit 262144); largest field metadata, " in reasons["bad-oversize"][0]
    oversize = rows(
        warehouse_url, "select payload from raw.litellm_spend_logs_rejected where request_id = 'bad-oversize'"
    )
    assert "x" * 1000 not in str(oversize[0]["payload"])  # the runaway content is not kept


def test_landed_row_keeps_typed_columns_and_the_full_row_without_content(
    litellm_url: str, warehouse_url: str
) -> None:
    streamed = R.streamed_row("req-streamed", R.T0 + timedelta(minutes=2, milliseconds=345), ttft_ms=750)
    streamed["messages"] = {"content": "the prompt"}  # content columns filled (store_prompts on)
    streamed["response"] = {"content": "the answer"}
    streamed["proxy_server_request"] = {"body": "the request"}
    streamed["metadata"]["proxy_server_request"] = '{"messages": "the prompt"}'
    R.insert_rows(litellm_url, [streamed])

    land(litellm_url, warehouse_url)

    (row,) = rows(warehouse_url, "select * from raw.litellm_spend_logs")
    assert row["start_time"].isoformat() == "2026-11-20T10:02:00.345000+00:00"
    assert row["completion_start_time"].isoformat() == "2026-11-20T10:02:01.095000+00:00"
    assert row["end_time"].isoformat() == "2026-11-20T10:02:02.845000+00:00"
    assert row["api_key"] == R.key_hash(R.DEFAULT_KEY)
    assert row["key_alias"] == R.DEFAULT_ALIAS
    assert (row["model_group"], row["model"], row["custom_llm_provider"]) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "openai",
    )
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (100, 20, 120)
    assert (row["status"], row["call_type"], row["spend"]) == ("success", "acompletion", 0.0004)
    assert (row["_partition_key"], row["_source"]) == ("2026-11-20-10:00", "litellm_db")
    payload = row["payload"]
    assert set(payload) == {c.name for c in COLUMNS}
    assert not {"messages", "response", "proxy_server_request", "created_at", "updated_at"} & set(payload)
    assert payload["metadata"]["proxy_server_request"] is None  # the request body copy is dropped too
    assert (payload["startTime"], payload["completionStartTime"], payload["endTime"]) == (
        "2026-11-20T10:02:00.345Z",
        "2026-11-20T10:02:01.095Z",
        "2026-11-20T10:02:02.845Z",
    )
    assert payload["metadata"]["usage_object"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert payload["request_tags"] == []
    assert payload["request_duration_ms"] == 2500
    assert (
        "the prompt" not in str(payload)
        and "the answer" not in str(payload)
        and "the request" not in str(payload)
    )


def test_cache_usage_shapes_survive_landing(litellm_url: str, warehouse_url: str) -> None:
    R.insert_rows(litellm_url, R.standard_set())
    land(litellm_url, warehouse_url)
    usage = {
        r["request_id"]: r["payload"]["metadata"]["usage_object"]
        for r in rows(warehouse_url, "select request_id, payload from raw.litellm_spend_logs")
    }
    assert usage["req-openai-cached"]["prompt_tokens_details"]["cached_tokens"] == 64
    assert usage["req-anthropic-cached"]["cache_read_input_tokens"] == 9000
    assert usage["req-anthropic-cached"]["cache_creation_input_tokens"] == 300
    failure = rows(
        warehouse_url, "select status, payload from raw.litellm_spend_logs where request_id = 'req-failure'"
    )
    assert failure[0]["status"] == "failure"
    info = failure[0]["payload"]["metadata"]["error_information"]
    assert (info["error_code"], info["error_class"]) == ("429", "RateLimitError")


def test_replaying_three_times_changes_nothing(litellm_url: str, warehouse_url: str) -> None:
    R.insert_rows(litellm_url, R.standard_set() + R.malformed_set())
    first = land(litellm_url, warehouse_url)
    before = rows(
        warehouse_url, "select request_id, _ingested_at, payload from raw.litellm_spend_logs order by 1"
    )
    rejected_before = rows(warehouse_url, "select count(*) as n from raw.litellm_spend_logs_rejected")

    for _ in range(3):
        again = land(litellm_url, warehouse_url)
        assert (again.fetched, again.inserted, again.updated, again.unchanged, again.rejected) == (
            11,
            0,
            0,
            5,
            6,
        )
        assert again.direct_rows == 0  # the window holds landed rows: every page is merged

    assert first.inserted == 5
    after = rows(
        warehouse_url, "select request_id, _ingested_at, payload from raw.litellm_spend_logs order by 1"
    )
    assert after == before  # _ingested_at untouched: dbt's incremental models see nothing new
    assert rows(warehouse_url, "select count(*) as n from raw.litellm_spend_logs_rejected") == rejected_before
    assert warehouse_counts(warehouse_url, R.T0, R.T0 + HOUR)[R.T0].total == 11


def test_a_row_changed_at_the_source_is_updated_and_only_it_moves_ingested_at(
    litellm_url: str, warehouse_url: str
) -> None:
    R.insert_rows(litellm_url, R.standard_set())
    land(litellm_url, warehouse_url)
    before = {
        r["request_id"]: r["_ingested_at"]
        for r in rows(warehouse_url, "select * from raw.litellm_spend_logs")
    }
    with psycopg.connect(litellm_url, autocommit=True) as conn:
        conn.execute(
            """update "LiteLLM_SpendLogs" set spend = 0.5, updated_at = now() where request_id = 'req-success'"""
        )

    result = land(litellm_url, warehouse_url)

    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 4)
    after = {r["request_id"]: r for r in rows(warehouse_url, "select * from raw.litellm_spend_logs")}
    assert after["req-success"]["spend"] == 0.5 and after["req-success"]["payload"]["spend"] == 0.5
    assert after["req-success"]["_ingested_at"] > before["req-success"]
    assert all(after[k]["_ingested_at"] == v for k, v in before.items() if k != "req-success")


def test_a_landed_row_that_turns_malformed_moves_to_rejected(litellm_url: str, warehouse_url: str) -> None:
    R.insert_rows(litellm_url, R.standard_set())
    land(litellm_url, warehouse_url)
    with psycopg.connect(litellm_url, autocommit=True) as conn:
        conn.execute(
            """update "LiteLLM_SpendLogs" set completion_tokens = -1 where request_id = 'req-streamed'"""
        )

    result = land(litellm_url, warehouse_url)

    assert (result.rejected, result.superseded) == (1, 1)
    counts = warehouse_counts(warehouse_url, R.T0, R.T0 + HOUR)[R.T0]
    assert (counts.landed, counts.rejected) == (4, 1)


def test_keyset_pages_with_tied_start_times_land_every_row_once(litellm_url: str, warehouse_url: str) -> None:
    same = R.T0 + timedelta(minutes=30)
    batch = [R.success_row(f"req-{i:02d}", same) for i in range(7)]  # seven rows share one startTime
    batch += [R.success_row(f"req-{i:02d}", R.T0 + timedelta(minutes=i)) for i in range(7, 12)]
    R.insert_rows(litellm_url, batch)

    result = land(litellm_url, warehouse_url, page_rows=2)

    assert (result.pages, result.fetched, result.inserted) == (7, 12, 12)
    assert rows(warehouse_url, "select count(distinct request_id) as n from raw.litellm_spend_logs") == [
        {"n": 12}
    ]


def test_a_multi_hour_window_lands_each_row_in_its_own_partition(
    litellm_url: str, warehouse_url: str
) -> None:
    R.insert_rows(
        litellm_url,
        [
            R.success_row("h10", R.T0 + timedelta(minutes=5)),
            R.success_row("h11", R.T0 + HOUR + timedelta(minutes=5)),
            R.negative_tokens_row("h12-bad", R.T0 + 2 * HOUR + timedelta(minutes=5)),
            R.success_row("h13-outside", R.T0 + 3 * HOUR),  # the window is [10:00, 13:00)
        ],
    )

    result = land(litellm_url, warehouse_url, end=R.T0 + 3 * HOUR)

    assert (result.inserted, result.rejected) == (2, 1)
    assert rows(
        warehouse_url, "select request_id, _partition_key from raw.litellm_spend_logs order by 1"
    ) == [
        {"request_id": "h10", "_partition_key": "2026-11-20-10:00"},
        {"request_id": "h11", "_partition_key": "2026-11-20-11:00"},
    ]
    assert rows(warehouse_url, "select partition_key from raw.litellm_spend_logs_rejected") == [
        {"partition_key": "2026-11-20-12:00"}
    ]


RAW_KEY = "sk-live-raw-session-key-abcdef123456"


def test_secrets_are_redacted_before_they_reach_the_warehouse(litellm_url: str, warehouse_url: str) -> None:
    leaky = R.failure_row(
        "req-leaky", R.T0 + timedelta(minutes=1), message=f"Incorrect API key provided: {RAW_KEY}"
    )
    leaky["api_key"] = RAW_KEY  # an old LiteLLM logged the raw key instead of its hash
    leaky["metadata"]["user_api_key"] = f"Bearer {RAW_KEY}"
    leaky["metadata"]["spend_logs_metadata"] = {
        "api_key": "plain-provider-secret-value",
        "Authorization": "Bearer eyJhbGciOi.payload.signature",
        "note": "called with bearer abc.def-ghi and kept going",
        "hashed_api_key": R.key_hash("x"),
    }
    clean = R.success_row("req-clean", R.T0 + timedelta(minutes=2))
    R.insert_rows(litellm_url, [leaky, clean])

    result = land(litellm_url, warehouse_url)

    # the raw api_key keeps the leaky row off the direct page: it alone takes the stage and its screen
    assert (result.inserted, result.direct_rows, result.screened_rows, result.screened_pages) == (2, 1, 1, 1)
    with psycopg.connect(warehouse_url) as conn:
        text = conn.execute("select string_agg(t::text, ' ') from raw.litellm_spend_logs t").fetchone()[0]
    for secret in (RAW_KEY, "plain-provider-secret-value", "eyJhbGciOi", "abc.def-ghi"):
        assert secret not in text
    row = rows(
        warehouse_url, "select api_key, payload from raw.litellm_spend_logs where request_id = 'req-leaky'"
    )[0]
    expected_hash = hashlib.sha256(RAW_KEY.encode()).hexdigest()  # what LiteLLM itself would store
    assert row["api_key"] == expected_hash == row["payload"]["api_key"]
    md = row["payload"]["metadata"]
    assert md["user_api_key"] == expected_hash
    assert md["spend_logs_metadata"] == {
        "api_key": hashlib.sha256(b"plain-provider-secret-value").hexdigest(),
        "Authorization": "[REDACTED]",
        "note": "called with bearer [REDACTED] and kept going",
        "hashed_api_key": R.key_hash("x"),
    }
    assert md["error_information"]["error_message"] == "Incorrect API key provided: sk-[REDACTED]"


def test_a_clean_page_skips_the_row_screen(litellm_url: str, warehouse_url: str) -> None:
    R.insert_rows(litellm_url, R.standard_set())
    result = land(litellm_url, warehouse_url)
    assert (result.screened_pages, result.screened_rows) == (0, 0)


def test_a_secret_in_metadata_sends_its_whole_page_through_the_stage(
    litellm_url: str, warehouse_url: str
) -> None:
    leaky = R.success_row("req-leaky", R.T0 + timedelta(minutes=1))  # api_key is a proper key hash
    leaky["metadata"]["spend_logs_metadata"] = {"note": f"retried with {RAW_KEY}"}
    R.insert_rows(litellm_url, [leaky, R.success_row("req-clean", R.T0 + timedelta(minutes=2))])

    result = land(litellm_url, warehouse_url)

    # the byte screen flags the direct page: it is rolled back and the page is merged, screened
    assert (result.inserted, result.direct_rows, result.screened_pages, result.screened_rows) == (2, 0, 1, 1)
    (leaked,) = rows(
        warehouse_url,
        "select payload -> 'metadata' -> 'spend_logs_metadata' ->> 'note' as note "
        "from raw.litellm_spend_logs where request_id = 'req-leaky'",
    )
    assert leaked["note"] == "retried with sk-[REDACTED]"
    with psycopg.connect(warehouse_url) as conn:
        text = conn.execute("select string_agg(t::text, ' ') from raw.litellm_spend_logs t").fetchone()[0]
    assert RAW_KEY not in text


def test_direct_pages_land_exactly_what_the_merge_lands(litellm_url: str, warehouse_url: str) -> None:
    streamed = R.streamed_row("req-with-body", R.T0 + timedelta(minutes=6), ttft_ms=300)
    streamed["metadata"]["proxy_server_request"] = {"messages": "the prompt"}  # store_prompts on
    # metadata over ~2 kB is stored compressed: the source query decompresses it once and reuses it
    big = R.success_row("req-big-metadata", R.T0 + timedelta(minutes=7))
    big["metadata"]["spend_logs_metadata"] = {f"tag_{i}": f"value {i} " * 8 for i in range(40)}
    R.insert_rows(litellm_url, [*R.standard_set(), streamed, big])
    with psycopg.connect(litellm_url) as conn:
        stored, as_text = conn.execute(
            """select pg_column_size(metadata), octet_length(metadata::text) from "LiteLLM_SpendLogs"
            where request_id = 'req-big-metadata'"""
        ).fetchone()
    assert stored < as_text  # compressed in LiteLLM's table
    columns = (
        "request_id, start_time, end_time, completion_start_time, api_key, key_alias, model_group, "
        "model, custom_llm_provider, call_type, status, spend, prompt_tokens, completion_tokens, "
        "total_tokens, session_id, litellm_call_id, payload, _partition_key, _source"
    )
    query = f"select {columns} from raw.litellm_spend_logs order by request_id"

    direct = land(litellm_url, warehouse_url)
    landed_directly = rows(warehouse_url, query)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("update raw.litellm_spend_logs set payload = '{}'")  # every row must be rewritten
    merged = land(litellm_url, warehouse_url)

    assert (direct.direct_rows, direct.inserted) == (7, 7)
    assert (merged.direct_rows, merged.updated) == (0, 7)
    assert rows(warehouse_url, query) == landed_directly
    with_body = next(r for r in landed_directly if r["request_id"] == "req-with-body")
    assert with_body["payload"]["metadata"]["proxy_server_request"] is None
    with_big = next(r for r in landed_directly if r["request_id"] == "req-big-metadata")
    assert with_big["payload"]["metadata"] == big["metadata"]


def test_only_a_key_hash_in_api_key_lands_directly(litellm_url: str, warehouse_url: str) -> None:
    digest = R.key_hash("session")
    keys = {
        "req-upper": digest.upper(),  # a digest in capitals is still a digest: kept, direct
        "req-empty": "",  # no key at all: direct
        "req-short": digest[:63],  # one hex digit short: not a digest, hashed
        "req-not-hex": "g" + digest[1:],  # 64 characters, one not hex: hashed
    }
    rows_in = []
    for minute, (request_id, key) in enumerate(keys.items(), start=1):
        row = R.success_row(request_id, R.T0 + timedelta(minutes=minute))
        row["api_key"] = key
        rows_in.append(row)
    R.insert_rows(litellm_url, rows_in)

    result = land(litellm_url, warehouse_url)

    assert (result.inserted, result.direct_rows) == (4, 2)  # the other two take the stage
    landed = {
        r["request_id"]: r["api_key"]
        for r in rows(warehouse_url, "select request_id, api_key from raw.litellm_spend_logs")
    }
    assert landed == {
        "req-upper": digest.upper(),
        "req-empty": "",
        "req-short": hashlib.sha256(digest[:63].encode()).hexdigest(),
        "req-not-hex": hashlib.sha256(("g" + digest[1:]).encode()).hexdigest(),
    }


def test_a_request_id_landed_under_another_hour_is_upserted_not_duplicated(
    litellm_url: str, warehouse_url: str
) -> None:
    R.insert_rows(litellm_url, [R.success_row("req-moved", R.T0 + timedelta(minutes=1))])
    land(litellm_url, warehouse_url)
    with psycopg.connect(litellm_url, autocommit=True) as conn:  # LiteLLM rewrote its startTime
        conn.execute(
            """update "LiteLLM_SpendLogs" set "startTime" = %s, "endTime" = %s, "completionStartTime" = %s,
            updated_at = now() where request_id = 'req-moved'""",
            (R.T0 + HOUR + timedelta(minutes=5),) * 3,
        )
    R.insert_rows(litellm_url, [R.success_row("req-new", R.T0 + HOUR + timedelta(minutes=10))])

    # nothing is landed in [11:00, 12:00) yet: the direct page collides on req-moved, is rolled
    # back, and the page is merged instead
    result = land(litellm_url, warehouse_url, start=R.T0 + HOUR)

    assert (result.inserted, result.updated, result.direct_rows) == (1, 1, 0)
    assert rows(
        warehouse_url, "select request_id, _partition_key from raw.litellm_spend_logs order by 1"
    ) == [
        {"request_id": "req-moved", "_partition_key": "2026-11-20-11:00"},
        {"request_id": "req-new", "_partition_key": "2026-11-20-11:00"},
    ]


def test_a_rejected_row_keeps_no_request_body_either(litellm_url: str, warehouse_url: str) -> None:
    bad = R.negative_tokens_row("bad-with-body", R.T0 + timedelta(minutes=1))
    bad["metadata"]["proxy_server_request"] = {"messages": "the prompt"}  # store_prompts on
    R.insert_rows(litellm_url, [bad])

    result = land(litellm_url, warehouse_url)

    assert result.rejected_by_reason == {"negative_tokens": 1}
    (rejected,) = rows(warehouse_url, "select payload from raw.litellm_spend_logs_rejected")
    assert rejected["payload"]["metadata"]["proxy_server_request"] is None
    assert rejected["payload"]["prompt_tokens"] == -5  # the rest of the row is kept, for diagnosis
    assert "the prompt" not in str(rejected["payload"])
