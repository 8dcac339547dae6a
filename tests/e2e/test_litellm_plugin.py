"""The plugin's parts without a running proxy: key lookups against a real registry, row building,
and the spend-log store against LiteLLM's real table."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from session_cli.keys import hash_key
from session_cli.litellm_plugin import spend_logs
from session_cli.litellm_plugin.keystore import KeyStore, SessionKey
from session_cli.litellm_plugin.rows import failure_row, finish_row, naive_utc, safe_api_key
from session_cli.litellm_plugin.spend_logs import SpendLogStore, SpendLogWriter
from session_cli.litellm_schema import apply_litellm_migrations


def insert_session(url: str, key: str, *, backend: str = "local", background: str | None = "b-model") -> str:
    session_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            insert into registry.sessions (session_id, experiment, variant, task_card, harness, provider,
                model_alias, background_model_alias, operator, litellm_base_url, key_backend, key_alias,
                key_hash, key_expires_at, key_metadata, config_fingerprints)
            values (%s, 'exp', 'var', 'card', 'claude-code', 'fake', 'a-model', %s, 'ana', 'http://proxy',
                %s, %s, %s, %s, %s, '{}')
            """,
            (session_id, background, backend, f"hb-{session_id}", hash_key(key),
             datetime.now(UTC) + timedelta(hours=1), Jsonb({"harness_bench_session_id": session_id})),
        )  # fmt: skip
    return session_id


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lookup_finds_local_keys_only(registry_db: str) -> None:
    local, remote = f"sk-hb-{uuid.uuid4().hex}", f"sk-{uuid.uuid4().hex}"
    session_id = insert_session(registry_db, local)
    insert_session(registry_db, remote, backend="litellm")
    store = KeyStore(url=lambda: registry_db, ttl_s=2.0)
    found = asyncio.run(store.lookup(hash_key(local)))
    assert found is not None
    assert (found.session_id, found.key_alias, found.allowed_models) == (
        session_id,
        f"hb-{session_id}",
        ("a-model", "b-model"),
    )
    assert found.refusal() is None
    assert found.metadata()["spend_logs_metadata"] == {
        "session_id": session_id,
        "experiment": "exp",
        "variant": "var",
        "task_card": "card",
        "harness": "claude-code",
    }
    assert asyncio.run(store.lookup(hash_key(remote))) is None  # minted by LiteLLM: not valid without its DB
    assert asyncio.run(store.lookup(hash_key("sk-nobody"))) is None
    store.close()


def test_revocation_is_seen_after_the_cache_ttl(registry_db: str) -> None:
    key = f"sk-hb-{uuid.uuid4().hex}"
    session_id = insert_session(registry_db, key, background=None)
    clock = Clock()
    store = KeyStore(url=lambda: registry_db, ttl_s=2.0, clock=clock)
    first = asyncio.run(store.lookup(hash_key(key)))
    assert first is not None and first.allowed_models == ("a-model",)
    with psycopg.connect(registry_db) as conn:
        conn.execute(
            "update registry.sessions set key_revoked_at = now() where session_id = %s", (session_id,)
        )
    clock.now += 1.9
    assert asyncio.run(store.lookup(hash_key(key))).revoked_at is None  # still cached
    clock.now += 0.2
    refreshed = asyncio.run(store.lookup(hash_key(key)))
    assert refreshed.refusal().startswith(f"session key hb-{session_id} was revoked at ")
    store.close()


def test_refusal_reasons() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base = SessionKey(
        key_hash="0" * 64, key_alias="hb-x", session_id="x", experiment="e", variant="v", task_card="t",
        harness="h", provider="p", operator=None, status="active", model_alias="m",
        background_model_alias="m", expires_at=now + timedelta(seconds=1), revoked_at=None,
    )  # fmt: skip
    assert base.refusal(now) is None
    assert base.allowed_models == ("m",)
    expired = SessionKey(**{**base.__dict__, "expires_at": now})
    assert expired.refusal(now) == "session key hb-x expired at 2026-01-01T00:00:00+00:00"
    done = SessionKey(**{**base.__dict__, "status": "completed"})
    assert done.refusal(now) == "session x is completed; its key is no longer valid"


def test_unreachable_registry_is_reported() -> None:
    from session_cli.litellm_plugin.keystore import KeyStoreUnavailable

    store = KeyStore(url=lambda: "postgresql://nobody@127.0.0.1:9/none", ttl_s=0)
    with pytest.raises(KeyStoreUnavailable, match="registry database unreachable"):
        asyncio.run(store.lookup("0" * 64))


def test_naive_utc() -> None:
    assert naive_utc(0.5) == datetime(1970, 1, 1, 0, 0, 0, 500000)
    assert naive_utc(datetime(2026, 1, 1, 12, tzinfo=UTC)) == datetime(2026, 1, 1, 12)
    assert naive_utc("2026-01-01T13:00:00+01:00") == datetime(2026, 1, 1, 12)
    assert naive_utc(None) is None


def test_safe_api_key_never_keeps_a_raw_key() -> None:
    digest = hash_key("sk-secret")
    assert safe_api_key(digest) == digest
    assert safe_api_key("sk-secret") == digest
    assert safe_api_key("Bearer sk-secret") == digest
    assert safe_api_key("litellm_proxy_master_key") == "litellm_proxy_master_key"
    assert safe_api_key(None) == ""


def test_finish_row_empties_content() -> None:
    row = finish_row(
        {
            "request_id": 7,
            "api_key": "sk-raw",
            "startTime": datetime(2026, 1, 1, tzinfo=UTC),
            "endTime": datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
            "completionStartTime": None,
            "metadata": '{"proxy_server_request": {"body": "secret"}, "user_api_key": "sk-raw", "a": 1}',
            "request_tags": '["t"]',
            "messages": [{"role": "user", "content": "secret"}],
            "response": {"choices": ["secret"]},
            "proxy_server_request": '{"body": "secret"}',
        }
    )
    assert row["request_id"] == "7"
    assert (row["messages"], row["response"], row["proxy_server_request"]) == ({}, {}, {})
    assert row["metadata"] == {"user_api_key": hash_key("sk-raw"), "a": 1}
    assert row["request_tags"] == ["t"]
    assert row["api_key"] == hash_key("sk-raw")
    assert row["endTime"] == datetime(2026, 1, 1, 0, 0, 1)


def test_failure_row_from_the_standard_logging_object() -> None:
    key_hash = hash_key("sk-hb-k")
    slo = {
        "id": "call-1",
        "trace_id": "trace-1",
        "litellm_call_id": "call-1",
        "call_type": "acompletion",
        "response_cost": 0.0,
        "status": "failure",
        "total_tokens": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "startTime": 1767225600.0,  # 2026-01-01 00:00:00 UTC
        "endTime": 1767225600.25,
        "completionStartTime": 1767225600.25,
        "model": "openai/kimi",
        "model_id": "dep-1",
        "model_group": "kimi",
        "custom_llm_provider": "openai",
        "api_base": "http://fake/v1",
        "cache_hit": None,
        "request_tags": ["User-Agent: x"],
        "end_user": None,
        "messages": [{"role": "user", "content": "secret prompt"}],
        "response": {"secret": "answer"},
        "error_str": "boom",
        "error_information": {"error_code": 500, "error_class": "InternalServerError", "llm_provider": "openai",
                              "error_message": "boom", "traceback": "File secret.py"},
        "metadata": {"user_api_key_hash": key_hash, "user_api_key_alias": "hb-s", "user_api_key_team_id": "exp",
                     "user_api_key_user_id": "ana", "requester_ip_address": "127.0.0.1"},
        "hidden_params": {"litellm_overhead_time_ms": 3.5},
    }  # fmt: skip
    row = failure_row(slo, attempted_retries=2)
    assert {k: row[k] for k in ("request_id", "call_type", "api_key", "status", "model", "model_group")} == {
        "request_id": "call-1",
        "call_type": "acompletion",
        "api_key": key_hash,
        "status": "failure",
        "model": "openai/kimi",
        "model_group": "kimi",
    }
    assert (row["startTime"], row["endTime"]) == (datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 0, 250000))
    assert row["completionStartTime"] == row["endTime"]
    assert row["request_duration_ms"] == 250
    assert (row["user"], row["team_id"], row["cache_hit"], row["session_id"]) == (
        "ana",
        "exp",
        "False",
        "trace-1",
    )
    info = row["metadata"]["error_information"]
    assert info == {"error_code": "500", "error_class": "InternalServerError", "llm_provider": "openai",
                    "error_message": "boom"}  # fmt: skip
    assert row["metadata"]["user_api_key_alias"] == "hb-s"
    assert row["metadata"]["attempted_retries"] == 2
    assert row["metadata"]["litellm_overhead_time_ms"] == 3.5
    assert (row["messages"], row["response"], row["proxy_server_request"]) == ({}, {}, {})
    assert "secret" not in str(row)
    # the writer times a failed request from its start to when the proxy gave up (after retries)
    whole = failure_row(slo, started=datetime(2025, 12, 31, 23, 59, 59), ended=1767225605.0)
    assert (whole["startTime"], whole["endTime"]) == (
        datetime(2025, 12, 31, 23, 59, 59),
        datetime(2026, 1, 1, 0, 0, 5),
    )
    assert whole["request_duration_ms"] == 6000 and whole["completionStartTime"] == whole["endTime"]


def test_store_writes_litellms_table_and_skips_duplicates(make_database) -> None:
    url = make_database("spendlogs")  # empty: the store creates LiteLLM's tables itself
    store = SpendLogStore(url)
    row = finish_row(
        {
            "request_id": "r-1",
            "call_type": "acompletion",
            "api_key": hash_key("sk-hb-k"),
            "spend": 0.25,
            "total_tokens": 3,
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "startTime": datetime(2026, 1, 1, tzinfo=UTC),
            "endTime": datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
            "completionStartTime": datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
            "model": "openai/kimi",
            "model_group": "kimi",
            "metadata": {"user_api_key_alias": "hb-s"},
            "request_tags": [],
            "status": "success",
        }
    )
    assert store.insert([row]) == 1
    assert store.insert([row]) == 0
    store.close()
    with psycopg.connect(url, row_factory=dict_row) as conn:
        stored = conn.execute('select * from "LiteLLM_SpendLogs"').fetchall()
    assert len(stored) == 1
    got = stored[0]
    assert (got["request_id"], got["spend"], got["total_tokens"], got["model_group"]) == (
        "r-1",
        0.25,
        3,
        "kimi",
    )
    assert (got["startTime"], got["completionStartTime"]) == (
        datetime(2026, 1, 1),
        datetime(2026, 1, 1, 0, 0, 0, 500000),
    )
    assert got["metadata"] == {"user_api_key_alias": "hb-s"}
    assert (got["messages"], got["response"], got["proxy_server_request"]) == ({}, {}, {})


EXIT_FLUSH = """
import asyncio, atexit, sys
from datetime import UTC, datetime
from session_cli.litellm_plugin.rows import finish_row
from session_cli.litellm_plugin.spend_logs import SpendLogStore, SpendLogWriter

writer = SpendLogWriter(SpendLogStore(sys.argv[1]))
row = finish_row({"request_id": "at-exit", "call_type": "acompletion", "api_key": "", "model": "m",
                  "startTime": datetime.now(UTC), "endTime": datetime.now(UTC), "status": "success"})

def flush():  # what LiteLLM's LoggingWorker._flush_on_exit does with callbacks still queued
    loop = asyncio.new_event_loop()
    loop.run_until_complete(writer._write(row))
    loop.close()

atexit.register(flush)
asyncio.run(asyncio.to_thread(print, "worker threads were used"))
"""


def test_rows_queued_at_exit_are_still_written(make_database, tmp_path) -> None:
    """At exit no thread may start (asyncio.to_thread raises): the writer inserts in place."""
    import subprocess
    import sys

    url = make_database("atexit")
    script = tmp_path / "exit_flush.py"
    script.write_text(EXIT_FLUSH)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "could not write" not in done.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute('select request_id from "LiteLLM_SpendLogs"').fetchall() == [("at-exit",)]


def _slo(call_id: str, key_hash: str, started: float) -> dict:
    return {
        "id": call_id, "litellm_call_id": call_id, "call_type": "acompletion", "model": "openai/kimi",
        "model_group": "kimi", "custom_llm_provider": "openai", "startTime": started, "endTime": started + 0.3,
        "completionStartTime": started + 0.3, "metadata": {"user_api_key_hash": key_hash, "user_api_key_alias": "hb-s"},
        "error_information": {"error_code": "500", "error_class": "InternalServerError", "error_message": "boom"},
    }  # fmt: skip


class Identity:
    def __init__(self, route: str = "/v1/chat/completions", api_key: str | None = None) -> None:
        self.request_route, self.api_key, self.key_alias = route, api_key, None


@pytest.fixture
def spend_db(make_database) -> str:
    url = make_database("writer")
    apply_litellm_migrations(url)
    return url


@pytest.fixture
def writer(spend_db: str, monkeypatch: pytest.MonkeyPatch):
    def fake_success_row(kwargs: dict, *_: object) -> dict:  # LiteLLM's builder needs a real call's kwargs
        now = datetime.now(UTC)
        base = {"request_id": "ok-" + kwargs["litellm_call_id"], "call_type": "acompletion", "api_key": ""}
        return finish_row({**base, "model": "m", "startTime": now, "endTime": now, "status": "success"})

    monkeypatch.setattr(spend_logs, "success_row", fake_success_row)
    made = SpendLogWriter(SpendLogStore(spend_db))
    yield made
    made.store.close()


def rows_of(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute('select * from "LiteLLM_SpendLogs" order by "startTime", request_id').fetchall()


def failure_event(writer: SpendLogWriter, call_id: str, slo: dict) -> None:
    kwargs = {"litellm_call_id": call_id, "standard_logging_object": slo}
    asyncio.run(writer.async_log_failure_event(kwargs, None, None, None))


def test_writer_one_row_per_request(spend_db: str, writer: SpendLogWriter) -> None:
    """Failure event at the first failed attempt, then either the proxy gives up (one failure row,
    timed over the whole request) or a retry works (only the success row). Failure events nobody
    claims (nested calls, health checks) leave no row."""
    key_hash, t0 = hash_key("sk-hb-w"), datetime.now(UTC).timestamp() - 10
    # 1. failed after retries
    failure_event(writer, "gave-up", _slo("gave-up", key_hash, t0))
    request = {
        "litellm_call_id": "gave-up",
        "standard_logging_object": _slo("gave-up", key_hash, t0),
        "start_time": datetime.fromtimestamp(t0 - 0.05, UTC),
        "metadata": {"attempted_retries": 2},
    }
    asyncio.run(writer.async_post_call_failure_hook(request, RuntimeError("boom"), Identity()))
    # 2. a failed attempt, then a retry that worked
    failure_event(writer, "recovered", _slo("recovered", key_hash, t0 + 1))
    asyncio.run(writer.async_log_success_event({"litellm_call_id": "recovered"}, None, None, None))
    # 3. a failure event nobody claims
    failure_event(writer, "nested", _slo("nested", key_hash, t0 + 2))
    # 4. the hook's request has no payload but the attempt had one; 5. neither has one
    failure_event(writer, "from-attempt", _slo("from-attempt", key_hash, t0 + 3))
    hook = writer.async_post_call_failure_hook
    asyncio.run(hook({"litellm_call_id": "from-attempt"}, RuntimeError("x"), Identity()))
    asyncio.run(hook({"litellm_call_id": "bare", "start_time": datetime.fromtimestamp(t0 + 4, UTC)},
                     RuntimeError("bad body"), Identity(api_key=key_hash)))  # fmt: skip
    # 6. a management route leaves nothing
    asyncio.run(hook({"litellm_call_id": "admin"}, RuntimeError("no"), Identity("/key/generate")))

    rows = rows_of(spend_db)
    assert [r["request_id"] for r in rows] == ["gave-up", "from-attempt", "bare", "ok-recovered"]
    gave_up, from_attempt, bare = rows[0], rows[1], rows[2]
    assert abs((gave_up["startTime"] - naive_utc(t0 - 0.05)).total_seconds()) < 0.001  # stored in ms
    assert (
        gave_up["request_duration_ms"] >= 10_000
    )  # the request's start to the hook, not the attempt's 300 ms
    assert gave_up["metadata"]["attempted_retries"] == 2
    assert from_attempt["metadata"]["error_information"]["error_class"] == "InternalServerError"
    assert (bare["api_key"], bare["status"]) == (key_hash, "failure")
    assert bare["metadata"]["error_information"]["error_class"] == "RuntimeError"
