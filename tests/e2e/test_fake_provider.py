"""The fake provider on its own: token rules, tool calls, failures, stream shapes, profiles, pacing.

Hand-computed answers follow the rules in session_cli/fake_provider/behaviour.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from session_cli import proxy_process as pp
from session_cli.errors import ConfigError
from session_cli.fake_provider import FAIL_WORD, ProfileSet, load_profiles
from session_cli.fake_provider.app import create_app

INSTANT = {"ttft_ms": 0, "tokens_per_s": 100000}
PROFILES = ProfileSet.from_mapping(
    {
        "defaults": {**INSTANT, "output_tokens": 3},
        "models": {
            "cached": {"output_tokens": 5, "cached_prompt_fraction": 0.25, "cache_write_fraction": 0.1},
            "always": {"stream_usage": "always"},
            "flaky": {"failure_rate": 1.0, "failure_status": 503},
        },
    }
)
SHELL = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(PROFILES))


def sse(response: httpx.Response) -> list[dict]:
    return [
        json.loads(line[5:])
        for line in response.text.splitlines()
        if line.startswith("data:") and "[DONE]" not in line
    ]


def test_profiles_inherit_defaults_and_ignore_provider_prefixes() -> None:
    cached = PROFILES.for_model("openai/cached")
    assert (cached.output_tokens, cached.ttft_ms, cached.cached_prompt_fraction) == (5, 0, 0.25)
    assert PROFILES.for_model("unknown-model").output_tokens == 3


def test_chat_counts_prompt_tokens_and_cached_share(client: TestClient) -> None:
    # 403 characters -> ceil(403 / 4) = 101 prompt tokens; cached floor(101 * 0.25) = 25
    body = {
        "model": "cached",
        "messages": [{"role": "system", "content": "abc"}, {"role": "user", "content": "x" * 400}],
    }
    answer = client.post("/v1/chat/completions", json=body).json()
    assert answer["usage"] == {
        "prompt_tokens": 101,
        "completion_tokens": 5,
        "total_tokens": 106,
        "prompt_tokens_details": {"cached_tokens": 25},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert answer["choices"][0]["message"]["content"] == "alpha bravo charlie delta echo"


def test_chat_stream_sends_usage_only_when_asked(client: TestClient) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "12345678"}]}
    plain = sse(client.post("/v1/chat/completions", json=body))
    assert [e["choices"][0]["delta"].get("content") for e in plain[:3]] == ["alpha ", "bravo ", "charlie"]
    assert plain[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("usage" not in e for e in plain)
    asked = sse(client.post("/v1/chat/completions", json={**body, "stream_options": {"include_usage": True}}))
    assert asked[-1]["choices"] == [] and asked[-1]["usage"]["prompt_tokens"] == 2
    always = sse(client.post("/v1/chat/completions", json={**body, "model": "always"}))
    assert always[-1]["usage"]["completion_tokens"] == 3


def test_tool_call_once_then_text(client: TestClient) -> None:
    tools = [
        {"type": "function", "function": {"name": "read_file", "parameters": {}}},
        {"type": "function", "function": {"name": "bash", "parameters": SHELL}},
    ]
    ask = [{"role": "user", "content": "list files"}]
    first = client.post("/v1/chat/completions", json={"model": "m", "messages": ask, "tools": tools}).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    assert (call["function"]["name"], call["function"]["arguments"]) == (
        "bash",
        '{"command":"echo harness-bench"}',
    )
    history = [
        *ask,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "ok"},
    ]
    second = client.post(
        "/v1/chat/completions", json={"model": "m", "messages": history, "tools": tools}
    ).json()
    assert second["choices"][0]["finish_reason"] == "stop"
    assert "tool_calls" not in second["choices"][0]["message"]


def test_codex_style_shell_tool_gets_an_argv(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"command": {"type": "array", "items": {"type": "string"}}},
        "required": ["command"],
    }
    body = {
        "model": "m",
        "input": "run it",
        "tools": [{"type": "function", "name": "shell", "parameters": schema}],
    }
    item = client.post("/v1/responses", json=body).json()["output"][0]
    assert (item["type"], item["name"], json.loads(item["arguments"])) == (
        "function_call",
        "shell",
        {"command": ["bash", "-lc", "echo harness-bench"]},
    )
    done = [
        *([{"role": "user", "content": "run it"}]),
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
    ]
    text = client.post("/v1/responses", json={**body, "input": done}).json()["output"][0]
    assert text["type"] == "message" and text["content"][0]["text"] == "alpha bravo charlie"


def test_anthropic_usage_splits_cache_reads_and_writes(client: TestClient) -> None:
    # system 40 + message 360 characters = 400 -> 100 prompt tokens: 25 read, 10 written, 65 uncached
    body = {
        "model": "cached",
        "max_tokens": 10,
        "system": "s" * 40,
        "messages": [{"role": "user", "content": "x" * 360}],
    }
    answer = client.post("/v1/messages", json=body).json()
    assert answer["usage"] == {
        "input_tokens": 65,
        "cache_read_input_tokens": 25,
        "cache_creation_input_tokens": 10,
        "output_tokens": 5,
    }
    assert answer["stop_reason"] == "end_turn"


def test_anthropic_stream_event_order_and_tool_use(client: TestClient) -> None:
    tools = [{"name": "Bash", "input_schema": SHELL}]
    body = {
        "model": "m",
        "max_tokens": 10,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
        "tools": tools,
    }
    events = sse(client.post("/v1/messages", json=body))
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[1]["content_block"]["type"] == "tool_use" and events[1]["content_block"]["name"] == "Bash"
    partial = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")
    assert json.loads(partial) == {"command": "echo harness-bench"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_responses_stream_ends_with_usage(client: TestClient) -> None:
    events = sse(client.post("/v1/responses", json={"model": "cached", "stream": True, "input": "y" * 40}))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 5
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"]["usage"]["input_tokens"] == 10
    assert events[-1]["response"]["usage"]["input_tokens_details"] == {"cached_tokens": 2}


def test_fail_word_and_failure_rate(client: TestClient) -> None:
    forced = client.post(
        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": FAIL_WORD}]}
    )
    assert forced.status_code == 500
    assert forced.json() == {
        "error": {"message": "fake provider failure for model m", "type": "server_error", "code": None}
    }
    anthropic = client.post(
        "/v1/messages", json={"model": "m", "messages": [{"role": "user", "content": f"a {FAIL_WORD}"}]}
    )
    assert anthropic.status_code == 500 and anthropic.json()["error"]["type"] == "api_error"
    flaky = client.post(
        "/v1/chat/completions", json={"model": "flaky", "messages": [{"role": "user", "content": "x"}]}
    )
    assert flaky.status_code == 503
    assert client.get("/_stats").json()["chat|flaky|plain|failures"] == 1


def test_bad_request_is_a_400(client: TestClient) -> None:
    assert client.post("/v1/chat/completions", content=b"not json").status_code == 400
    assert (
        client.post("/v1/messages", json={"messages": []}).json()["error"]["type"] == "invalid_request_error"
    )


def test_profile_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "profiles.yaml"
    bad.write_text("models:\n  slow: {ttft_ms: -5}\n")
    with pytest.raises(ConfigError) as exc:
        load_profiles(bad)
    assert exc.value.message.startswith(
        f"{bad}: models.slow.ttft_ms: Input should be greater than or equal to 0"
    )
    bad.write_text("model: {}\n")
    with pytest.raises(ConfigError, match="unknown top-level field 'model'"):
        load_profiles(bad)
    good = tmp_path / "profiles.json"
    good.write_text(json.dumps({"defaults": {"output_tokens": 7}, "models": {"a": {"ttft_ms": 5}}}))
    assert load_profiles(good).for_model("a").output_tokens == 7


def test_pacing_over_http(tmp_path: Path) -> None:
    """TTFT and tokens/s hold on a real socket (300 ms, then 4 more tokens at 20/s = 200 ms)."""
    profiles = tmp_path / "profiles.json"
    profiles.write_text(
        json.dumps({"models": {"paced": {"ttft_ms": 300, "tokens_per_s": 20, "output_tokens": 5}}})
    )
    server = pp.start_fake_provider(port=pp.free_port(), log_path=tmp_path / "fake.log", profiles=profiles)
    try:
        body = {"model": "paced", "stream": True, "messages": [{"role": "user", "content": "go"}]}
        started = time.monotonic()
        first = None
        with httpx.stream(
            "POST", server.base_url + "/v1/chat/completions", json=body, timeout=10
        ) as response:
            for line in response.iter_lines():
                if first is None and '"content"' in line:
                    first = time.monotonic() - started
        total = time.monotonic() - started
    finally:
        assert server.stop() is not None
    assert first is not None and 0.3 <= first < 0.5
    assert 0.5 <= total < 0.8
