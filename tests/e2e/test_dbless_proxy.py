"""A real LiteLLM proxy in database-less mode: session keys, spend-log rows, rejections, timing.

Expected token counts come from the fake provider's rules (session_cli/fake_provider/behaviour.py):
prompt tokens = ceil(prompt characters / 4), cached = floor(prompt * cached_prompt_fraction),
output = the profile's output_tokens. Profiles are in conftest.FAKE_PROFILES.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from session_cli.fake_provider import FAIL_WORD
from session_cli.litellm_plugin.keystore import hash_key
from tests.e2e.clients import Measured, chat, messages, prompt
from tests.e2e.support import Proxy, SessionKey, update_session

pytestmark = pytest.mark.e2e

BASH_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "run a shell command",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}
BASH_TOOL_ANTHROPIC = {
    "name": "Bash",
    "description": "run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}


def ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000.0


def row_text(proxy: Proxy, request_id: str) -> str:
    with psycopg.connect(proxy.spend_logs_url) as conn:
        found = conn.execute(
            'select row_to_json(t)::text from "LiteLLM_SpendLogs" t where request_id = %s', (request_id,)
        ).fetchone()
    assert found
    return found[0]


@pytest.fixture(scope="module")
def traffic(dbless_proxy: Proxy, make_session) -> dict[str, Any]:
    """Two sessions (a fast OpenAI-surface model and a slow Anthropic one) driven by scripted clients."""
    fast: SessionKey = make_session("kimi-k2-5", "kimi-k2-5-turbo", variant="fast")
    slow: SessionKey = make_session("claude-sonnet-4-6", None, variant="slow")
    marker = f"MARKER{uuid.uuid4().hex[:12]}"
    sent: dict[str, list[tuple[str, Measured]]] = {fast.key_hash: [], slow.key_hash: []}
    with dbless_proxy.client(fast.key) as client:
        sent[fast.key_hash] += [
            ("chat", chat(client, "kimi-k2-5", prompt(400, marker))),
            ("chat-stream", chat(client, "kimi-k2-5", prompt(40, marker), stream=True)),
            ("messages", messages(client, "kimi-k2-5", prompt(80, marker))),
            ("messages-stream", messages(client, "kimi-k2-5", prompt(120, marker), stream=True)),
            ("failure", chat(client, "kimi-k2-5", f"{marker} {FAIL_WORD}")),
            ("background", chat(client, "kimi-k2-5-turbo", prompt(8, "bg"))),
        ]
    with dbless_proxy.client(slow.key) as client:
        sent[slow.key_hash] += [
            ("messages", messages(client, "claude-sonnet-4-6", prompt(400, marker))),
            ("messages-stream", messages(client, "claude-sonnet-4-6", prompt(200, marker), stream=True)),
            ("chat-stream", chat(client, "claude-sonnet-4-6", prompt(40, marker), stream=True)),
        ]
    rows = {
        fast.key_hash: dbless_proxy.wait_rows(fast.key_hash, 6),
        slow.key_hash: dbless_proxy.wait_rows(slow.key_hash, 3),
    }
    return {"fast": fast, "slow": slow, "marker": marker, "sent": sent, "rows": rows}


def test_clients_got_the_fake_answers(traffic) -> None:
    statuses = {name: m.status for name, m in traffic["sent"][traffic["fast"].key_hash]}
    assert statuses == {
        "chat": 200,
        "chat-stream": 200,
        "messages": 200,
        "messages-stream": 200,
        "failure": 500,
        "background": 200,
    }
    assert all(m.status == 200 for _, m in traffic["sent"][traffic["slow"].key_hash])
    first = traffic["sent"][traffic["fast"].key_hash][0][1]
    assert first.usage["prompt_tokens"] == 100 and first.usage["completion_tokens"] == 12


def test_one_row_per_request_with_the_session_identity(traffic) -> None:
    fast, slow = traffic["fast"], traffic["slow"]
    fast_rows, slow_rows = traffic["rows"][fast.key_hash], traffic["rows"][slow.key_hash]
    got = [(r["call_type"], r["model_group"], r["status"]) for r in fast_rows]
    assert got == [
        ("acompletion", "kimi-k2-5", "success"),
        ("acompletion", "kimi-k2-5", "success"),
        ("anthropic_messages", "kimi-k2-5", "success"),
        ("anthropic_messages", "kimi-k2-5", "success"),
        ("acompletion", "kimi-k2-5", "failure"),
        ("acompletion", "kimi-k2-5-turbo", "success"),
    ]
    assert [(r["call_type"], r["model_group"], r["status"]) for r in slow_rows] == [
        ("anthropic_messages", "claude-sonnet-4-6", "success"),
        ("anthropic_messages", "claude-sonnet-4-6", "success"),
        ("acompletion", "claude-sonnet-4-6", "success"),
    ]
    for key, rows in ((fast, fast_rows), (slow, slow_rows)):
        for row in rows:
            assert row["api_key"] == key.key_hash
            assert row["metadata"]["user_api_key_alias"] == key.key_alias
            assert row["metadata"]["user_api_key"] == key.key_hash
            assert row["team_id"] == "e2e-dbless"
        for row in rows:
            if row["status"] == "success":
                assert row["metadata"]["spend_logs_metadata"]["session_id"] == key.session_id
    assert {r["custom_llm_provider"] for r in slow_rows} == {"anthropic"}
    assert {r["custom_llm_provider"] for r in fast_rows} == {"openai"}


def test_tokens_come_from_the_fake_usage(traffic) -> None:
    fast_rows = traffic["rows"][traffic["fast"].key_hash]
    slow_rows = traffic["rows"][traffic["slow"].key_hash]
    # (prompt, completion, total): prompts of 400, 40, 80, 120 chars; output 12; failure 0; turbo: 8 chars, 4 out
    assert [(r["prompt_tokens"], r["completion_tokens"], r["total_tokens"]) for r in fast_rows] == [
        (100, 12, 112),
        (10, 12, 22),
        (20, 12, 32),
        (30, 12, 42),
        (0, 0, 0),
        (2, 4, 6),
    ]
    # Anthropic: prompt = input + cache read + cache write (LiteLLM's sum); 400, 200, 40 chars; output 10
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in slow_rows] == [
        (100, 10),
        (50, 10),
        (10, 10),
    ]
    # cached tokens: kimi 25% of 100; claude 50% of 100 read and 10% written
    assert fast_rows[0]["metadata"]["usage_object"]["prompt_tokens_details"]["cached_tokens"] == 25
    claude_usage = slow_rows[0]["metadata"]["additional_usage_values"]
    assert claude_usage["cache_read_input_tokens"] == 50
    assert claude_usage["cache_creation_input_tokens"] == 10


def test_completion_start_time_marks_streamed_rows(traffic) -> None:
    streamed = {"chat-stream", "messages-stream"}
    for key_hash, sent in traffic["sent"].items():
        for (name, _), row in zip(sent, traffic["rows"][key_hash], strict=True):
            start, first, end = row["startTime"], row["completionStartTime"], row["endTime"]
            assert first is not None
            if name in streamed:
                assert start < first < end, (name, row)
            else:
                assert first == end, (name, row)


def test_failure_row_names_the_error(traffic) -> None:
    failure = traffic["rows"][traffic["fast"].key_hash][4]
    info = failure["metadata"]["error_information"]
    assert (info["error_class"], info["error_code"]) == ("InternalServerError", "500")
    assert failure["metadata"]["status"] == "failure"
    assert "traceback" not in info
    # three attempts (LiteLLM retries twice), each failing after the profile's 150 ms TTFT
    assert failure["request_duration_ms"] >= 3 * 150
    assert failure["metadata"]["attempted_retries"] == 2


def test_no_content_is_stored(dbless_proxy: Proxy, traffic) -> None:
    for rows in traffic["rows"].values():
        for row in rows:
            assert (row["messages"], row["response"], row["proxy_server_request"]) == ({}, {}, {})
            text = row_text(dbless_proxy, row["request_id"])
            assert traffic["marker"] not in text
            assert "alpha bravo" not in text  # the fake's answer
            assert traffic["fast"].key not in text and traffic["slow"].key not in text


def test_client_timing_agrees_with_the_rows(traffic, record_property) -> None:
    """The row's TTFT/latency start when LiteLLM starts the call; the client's a little earlier.
    A failure row spans the whole request, LiteLLM's retries and their backoff included."""
    report = []
    for key_hash, sent in traffic["sent"].items():
        for (name, measured), row in zip(sent, traffic["rows"][key_hash], strict=True):
            latency_diff = measured.latency_s * 1000 - ms(row["endTime"] - row["startTime"])
            report.append((name, row["model_group"], "latency", round(latency_diff, 1)))
            assert -5 <= latency_diff <= 250, (name, latency_diff)
            if measured.ttft_s is not None:
                ttft_diff = measured.ttft_s * 1000 - ms(row["completionStartTime"] - row["startTime"])
                report.append((name, row["model_group"], "ttft", round(ttft_diff, 1)))
                assert -5 <= ttft_diff <= 250, (name, ttft_diff)
    record_property("client_minus_row_ms", report)
    print("client minus row (ms):", report)


def test_row_timing_reflects_the_fake_profiles(traffic) -> None:
    def ttft(row: dict[str, Any]) -> float:
        return ms(row["completionStartTime"] - row["startTime"])

    fast_rows = traffic["rows"][traffic["fast"].key_hash]
    slow_rows = traffic["rows"][traffic["slow"].key_hash]
    # kimi: TTFT 150 ms then 12 tokens at 200/s; claude: 400 ms then 10 tokens at 50/s. LiteLLM
    # starts its clock just before the upstream call and stores milliseconds (truncated): allow 2 ms.
    assert 148 <= ttft(fast_rows[1]) < 400
    assert 398 <= ttft(slow_rows[1]) < 700
    assert ms(slow_rows[1]["endTime"] - slow_rows[1]["startTime"]) >= 400 + 9 * 20 - 2


def test_unknown_key_is_rejected_and_logged_unattributed(dbless_proxy: Proxy) -> None:
    unknown = "sk-hb-" + uuid.uuid4().hex
    with dbless_proxy.client(unknown) as client:
        result = chat(client, "kimi-k2-5", "hello")
    assert result.status == 401
    assert "unknown API key" in result.body["error"]["message"]
    rows = dbless_proxy.wait_rows(hash_key(unknown), 1)
    assert [(r["status"], r["metadata"]["error_information"]["error_code"]) for r in rows] == [
        ("failure", "401")
    ]
    assert rows[0]["metadata"]["user_api_key_alias"] is None


def test_master_key_works_and_is_never_logged(dbless_proxy: Proxy) -> None:
    with dbless_proxy.client(dbless_proxy.master_key) as client:
        result = chat(client, "glm-5", f"master {uuid.uuid4().hex}")
    assert result.status == 200
    assert dbless_proxy.rows(hash_key(dbless_proxy.master_key)) == []
    with psycopg.connect(dbless_proxy.spend_logs_url) as conn:
        leaked = conn.execute(
            """select count(*) from "LiteLLM_SpendLogs" t where row_to_json(t)::text like %s""",
            (f"%{dbless_proxy.master_key}%",),
        ).fetchone()
    assert leaked == (0,)


def test_model_outside_the_session_aliases_is_refused(dbless_proxy: Proxy, make_session) -> None:
    session = make_session("kimi-k2-5", "kimi-k2-5-turbo")
    with dbless_proxy.client(session.key) as client:
        refused = chat(client, "claude-sonnet-4-6", "hello")
        allowed = chat(client, "kimi-k2-5-turbo", "hello")
    assert refused.status == 403
    assert "may not call model 'claude-sonnet-4-6'" in refused.body["error"]["message"]
    assert allowed.status == 200
    rows = dbless_proxy.wait_rows(session.key_hash, 2)
    assert [(r["model_group"], r["status"]) for r in rows] == [
        ("claude-sonnet-4-6", "failure"),
        ("kimi-k2-5-turbo", "success"),
    ]


def _first_rejection(proxy: Proxy, key: str, timeout_s: float) -> float:
    """Seconds until a request with ``key`` is refused with 401 (polling every 0.2 s)."""
    started = time.monotonic()
    with proxy.client(key) as client:
        while time.monotonic() - started < timeout_s:
            status = client.post(
                "/v1/chat/completions",
                json={"model": "kimi-k2-5-turbo", "messages": [{"role": "user", "content": "x"}]},
            ).status_code
            if status == 401:
                return time.monotonic() - started
            assert status == 200
            time.sleep(0.2)
    raise AssertionError(f"key still accepted after {timeout_s} s")


def test_revoked_key_is_rejected_within_seconds(dbless_proxy: Proxy, make_session) -> None:
    session = make_session()
    with dbless_proxy.client(session.key) as client:
        assert chat(client, "kimi-k2-5", "hello").status == 200
    update_session(dbless_proxy, session.session_id, key_revoked_at=datetime.now(UTC))
    waited = _first_rejection(dbless_proxy, session.key, timeout_s=10)
    assert waited <= 3.0  # the plugin's cache TTL is 2 s
    print(f"revoked key refused after {waited:.2f} s")


def test_finalized_session_key_is_rejected(dbless_proxy: Proxy, make_session) -> None:
    session = make_session()
    with dbless_proxy.client(session.key) as client:
        assert chat(client, "kimi-k2-5", "hello").status == 200
    now = datetime.now(UTC)
    update_session(dbless_proxy, session.session_id, status="completed", ended_at=now)
    assert _first_rejection(dbless_proxy, session.key, timeout_s=10) <= 3.0
    with dbless_proxy.client(session.key) as client:
        refused = chat(client, "kimi-k2-5", "hello")
    assert refused.status == 401 and "is completed" in refused.body["error"]["message"]


def test_expired_key_is_rejected_at_once(dbless_proxy: Proxy, make_session) -> None:
    session = make_session(expires_in=timedelta(seconds=3))
    with dbless_proxy.client(session.key) as client:
        assert chat(client, "kimi-k2-5", "hello").status == 200
        time.sleep(3.2)
        refused = chat(client, "kimi-k2-5", "hello")
    assert refused.status == 401
    assert "expired at" in refused.body["error"]["message"]


def test_two_turn_tool_loop_completes(dbless_proxy: Proxy, make_session) -> None:
    """The fake answers a tool call once, then text: what a harness's agent loop needs."""
    session = make_session("claude-sonnet-4-6", "kimi-k2-5")
    with dbless_proxy.client(session.key) as client:
        ask = [{"role": "user", "content": "list the files"}]
        first = chat(client, "kimi-k2-5", messages=ask, tools=[BASH_TOOL_OPENAI], stream=True)
        assert first.tool_calls and first.tool_calls[0]["name"] == "Bash"
        assert first.tool_calls[0]["arguments"] == '{"command":"echo harness-bench"}'
        call = first.tool_calls[0]
        follow = [
            *ask,
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call["id"], "type": "function", "function": {"name": "Bash", "arguments": call["arguments"]}}
            ]},
            {"role": "tool", "tool_call_id": call["id"], "content": "harness-bench"},
        ]  # fmt: skip
        second = chat(client, "kimi-k2-5", messages=follow, tools=[BASH_TOOL_OPENAI], stream=True)
        assert second.tool_calls == [] and second.text.startswith("alpha bravo")

        first_m = messages(
            client, "claude-sonnet-4-6", "list the files", tools=[BASH_TOOL_ANTHROPIC], stream=True
        )
        use = first_m.tool_calls[0]
        assert (use["type"], use["name"], use["partial_json"]) == (
            "tool_use",
            "Bash",
            '{"command":"echo harness-bench"}',
        )
        history = [
            {"role": "user", "content": "list the files"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": use["id"], "name": "Bash",
                                               "input": {"command": "echo harness-bench"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "harness-bench"}]},
        ]  # fmt: skip
        second_m = messages(
            client, "claude-sonnet-4-6", history=history, tools=[BASH_TOOL_ANTHROPIC], stream=True
        )
        assert second_m.tool_calls == [] and second_m.text.startswith("alpha bravo")
    rows = dbless_proxy.wait_rows(session.key_hash, 4)
    assert [r["status"] for r in rows] == ["success"] * 4


def test_a_retried_failure_that_recovers_is_one_success_row(dbless_proxy: Proxy, make_session) -> None:
    """LiteLLM's failure event fires at the first failed attempt; the request may still succeed on a
    retry. The rows must match what the client saw: one row per request, with the client's outcome."""
    session = make_session("glm-5-fast", None)
    before = httpx.get(dbless_proxy.fake_url + "/_stats").json()
    with dbless_proxy.client(session.key) as client:
        outcomes = [chat(client, "glm-5-fast", f"try {i}").status for i in range(4)]
    stats = httpx.get(dbless_proxy.fake_url + "/_stats").json()
    upstream_failures = stats.get("chat|glm-5-fast|plain|failures", 0) - before.get(
        "chat|glm-5-fast|plain|failures", 0
    )
    assert upstream_failures >= 1  # the seeded dice make at least one attempt fail
    rows = dbless_proxy.wait_rows(session.key_hash, len(outcomes))
    assert [r["status"] for r in rows] == ["success" if s == 200 else "failure" for s in outcomes]
    print(f"glm-5-fast: client outcomes {outcomes}, {upstream_failures} failed upstream attempts")


def test_gemini_route_is_authorized_by_the_path_model(dbless_proxy: Proxy, make_session) -> None:
    session = make_session("glm-5", None)
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}  # 11 characters: 3 tokens
    headers = {"x-goog-api-key": session.key}
    with httpx.Client(base_url=dbless_proxy.base_url, headers=headers, timeout=30) as client:
        ok = client.post("/v1beta/models/glm-5:streamGenerateContent?alt=sse", json=body)
        refused = client.post("/v1beta/models/kimi-k2-5:generateContent", json=body)
    assert ok.status_code == 200 and "alpha" in ok.text
    assert refused.status_code == 403
    rows = dbless_proxy.wait_rows(session.key_hash, 2)
    assert [(r["status"], r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [
        ("success", 3, 7),
        ("failure", 0, 0),
    ]
    # LiteLLM logs the Gemini route's inner chat call: model_group stays empty (see docs/litellm-modes.md)
    assert rows[0]["model"] == "glm-5" and rows[0]["model_group"] == ""


def test_prometheus_exporter_labels_the_session_key(dbless_proxy: Proxy, traffic) -> None:
    """/metrics/ answers without a key (Prometheus scrapes it) and labels requests by key hash and alias."""
    fast = traffic["fast"]
    metrics = httpx.get(dbless_proxy.base_url + "/metrics/", timeout=10)
    assert metrics.status_code == 200
    mine = [
        line
        for line in metrics.text.splitlines()
        if line.startswith("litellm_proxy_total_requests_metric_total{")
        and f'api_key_alias="{fast.key_alias}"' in line
    ]
    assert mine and all(f'hashed_api_key="{fast.key_hash}"' in line for line in mine)
    assert fast.key not in metrics.text and dbless_proxy.master_key not in metrics.text
