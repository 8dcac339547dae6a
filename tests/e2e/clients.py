"""Scripted clients: one request each, measured on the client side (TTFT = first content event)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Measured:
    status: int
    latency_s: float
    ttft_s: float | None = None  # streamed requests only
    usage: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    body: Any = None


def prompt(chars: int, marker: str) -> str:
    """A prompt of exactly ``chars`` characters that starts with ``marker`` (fake: ceil(chars/4) tokens)."""
    assert len(marker) < chars
    return marker + "x" * (chars - len(marker))


def _sse_events(response: httpx.Response) -> Any:
    for line in response.iter_lines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                yield json.loads(data)


def chat(
    client: httpx.Client,
    model: str,
    content: str | None = None,
    *,
    stream: bool = False,
    messages: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Measured:
    payload: dict[str, Any] = {"model": model, "messages": messages or [{"role": "user", "content": content}]}
    if tools:
        payload["tools"] = tools
    started = time.monotonic()
    if not stream:
        response = client.post("/v1/chat/completions", json=payload)
        latency = time.monotonic() - started
        body = response.json()
        if response.status_code != 200:
            return Measured(response.status_code, latency, body=body)
        message = body["choices"][0]["message"]
        return Measured(
            200, latency, usage=body.get("usage") or {}, text=message.get("content") or "",
            tool_calls=message.get("tool_calls") or [], body=body,
        )  # fmt: skip
    payload.update(stream=True, stream_options={"include_usage": True})
    result = Measured(0, 0.0)
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        result.status = response.status_code
        if response.status_code != 200:
            response.read()
            result.latency_s = time.monotonic() - started
            result.body = response.json()
            return result
        calls: dict[int, dict[str, Any]] = {}
        for event in _sse_events(response):
            if event.get("usage"):
                result.usage = event["usage"]
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                if (delta.get("content") or delta.get("tool_calls")) and result.ttft_s is None:
                    result.ttft_s = time.monotonic() - started
                result.text += delta.get("content") or ""
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                    fn = call.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
                    slot["id"] = call.get("id") or slot.get("id")
        result.tool_calls = [calls[i] for i in sorted(calls)]
    result.latency_s = time.monotonic() - started
    return result


def messages(
    client: httpx.Client,
    model: str,
    content: str | None = None,
    *,
    stream: bool = False,
    history: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Measured:
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "messages": history or [{"role": "user", "content": content}],
    }
    if tools:
        payload["tools"] = tools
    started = time.monotonic()
    if not stream:
        response = client.post("/v1/messages", json=payload)
        latency = time.monotonic() - started
        body = response.json()
        if response.status_code != 200:
            return Measured(response.status_code, latency, body=body)
        text = "".join(block.get("text", "") for block in body["content"] if block["type"] == "text")
        uses = [block for block in body["content"] if block["type"] == "tool_use"]
        return Measured(200, latency, usage=body["usage"], text=text, tool_calls=uses, body=body)
    payload["stream"] = True
    result = Measured(0, 0.0)
    with client.stream("POST", "/v1/messages", json=payload) as response:
        result.status = response.status_code
        if response.status_code != 200:
            response.read()
            result.latency_s = time.monotonic() - started
            result.body = response.json()
            return result
        for event in _sse_events(response):
            kind = event.get("type")
            if kind == "message_start":
                result.usage.update(event["message"].get("usage") or {})
            elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
                result.tool_calls.append({**event["content_block"], "partial_json": ""})
            elif kind == "content_block_delta":
                if result.ttft_s is None:
                    result.ttft_s = time.monotonic() - started
                delta = event["delta"]
                if delta.get("type") == "text_delta":
                    result.text += delta["text"]
                elif delta.get("type") == "input_json_delta" and result.tool_calls:
                    result.tool_calls[-1]["partial_json"] += delta["partial_json"]
            elif kind == "message_delta":
                result.usage.update(event.get("usage") or {})
    result.latency_s = time.monotonic() - started
    return result
