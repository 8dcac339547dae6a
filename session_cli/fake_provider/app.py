"""The fake provider's HTTP surface (Starlette): OpenAI chat and Responses, Anthropic messages.

The first byte of every answer (streamed or not) leaves ``ttft_ms`` after the request arrived,
so a proxy's time-to-first-token measures the profile and nothing else. ``GET /_stats`` returns
how many requests each model and protocol received and how many failed (tests read it to see
what reached the upstream).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from session_cli.fake_provider.behaviour import (
    FailureDice,
    Plan,
    Protocol,
    count_prompt_tokens,
    piece_offsets_s,
    plan_answer,
    request_texts,
)
from session_cli.fake_provider.profiles import ProfileSet

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class FakeProvider:
    """State shared by the routes: the profiles, the failure dice and request counters."""

    def __init__(self, profiles: ProfileSet) -> None:
        self.profiles = profiles
        self.dice = FailureDice()
        self.stats: Counter[str] = Counter()

    async def handle(self, request: Request, protocol: Protocol) -> Response:
        arrived = time.monotonic()
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return _error(protocol, 400, "request body is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
            return _error(protocol, 400, "request body needs a string field 'model'")
        model = payload["model"]
        profile = self.profiles.for_model(model)
        plan = plan_answer(payload, protocol, model, profile, self.dice)
        stream = bool(payload.get("stream"))
        self.stats[f"{protocol}|{model}|{'stream' if stream else 'plain'}|requests"] += 1
        uncached = plan.usage.prompt_tokens - plan.usage.cached_tokens
        offsets = piece_offsets_s(profile, len(plan.output_pieces), uncached)
        if plan.fail_status is not None:
            self.stats[f"{protocol}|{model}|{'stream' if stream else 'plain'}|failures"] += 1
            await _sleep_until(arrived + profile.ttft_ms / 1000.0)
            return _error(protocol, plan.fail_status, f"fake provider failure for model {model}")
        if stream:
            requested = bool((payload.get("stream_options") or {}).get("include_usage"))
            include_usage = protocol != "chat" or requested or profile.stream_usage == "always"
            events = _STREAMERS[protocol](plan, include_usage)
            return StreamingResponse(
                _paced(events, arrived, offsets), media_type="text/event-stream", headers=SSE_HEADERS
            )
        await _sleep_until(arrived + (offsets[-1] if offsets else 0.0))
        return JSONResponse(_BODIES[protocol](plan))


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _paced(
    events: list[tuple[int | None, bytes]], arrived: float, offsets: list[float]
) -> AsyncIterator[bytes]:
    """Send each event when its piece is due: ``(piece index, bytes)``; None rides with the previous one."""
    for piece, data in events:
        if piece is not None:
            await _sleep_until(arrived + offsets[min(piece, len(offsets) - 1)] if offsets else arrived)
        yield data


def _error(protocol: Protocol, status: int, message: str) -> JSONResponse:
    if protocol == "anthropic":
        kind = (
            "overloaded_error" if status == 529 else "api_error" if status >= 500 else "invalid_request_error"
        )
        return JSONResponse(
            {"type": "error", "error": {"type": kind, "message": message}}, status_code=status
        )
    kind = "server_error" if status >= 500 else "invalid_request_error"
    # code null, like most OpenAI 5xx bodies: LiteLLM then reports the HTTP status as error_code
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status_code=status)


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# ---------------------------------------------------------------- OpenAI chat completions


def _chat_usage(plan: Plan) -> dict[str, Any]:
    u = plan.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _chat_body(plan: Plan) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text or None}
    if plan.tool_call:
        call = plan.tool_call
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.model,
        "choices": [{"index": 0, "message": message, "finish_reason": plan.finish_reason}],
        "usage": _chat_usage(plan),
    }


def _chat_stream(plan: Plan, include_usage: bool) -> list[tuple[int | None, bytes]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
    }
    base["model"] = plan.model

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events: list[tuple[int | None, bytes]] = []
    for i, piece in enumerate(plan.output_pieces):
        if plan.tool_call is None:
            delta: dict[str, Any] = {"content": piece}
        else:
            call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
            if i == 0:
                call.update(id=plan.tool_call.call_id, type="function")
                call["function"]["name"] = plan.tool_call.name
            delta = {"tool_calls": [call]}
        if i == 0:
            delta = {"role": "assistant", **delta}
        events.append((i, chunk(delta)))
    events.append((None, chunk({}, plan.finish_reason)))
    if include_usage:
        events.append((None, _sse({**base, "choices": [], "usage": _chat_usage(plan)})))
    events.append((None, b"data: [DONE]\n\n"))
    return events


# ---------------------------------------------------------------- OpenAI Responses


def _responses_usage(plan: Plan) -> dict[str, Any]:
    u = plan.usage
    return {
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.total_tokens,
    }


def _responses_item(plan: Plan, item_id: str, done: bool) -> dict[str, Any]:
    status = "completed" if done else "in_progress"
    if plan.tool_call:
        call = plan.tool_call
        args = call.arguments_json if done else ""
        return {
            "type": "function_call",
            "id": item_id,
            "call_id": call.call_id,
            "name": call.name,
            "arguments": args,
            "status": status,
        }
    content = [{"type": "output_text", "text": plan.text, "annotations": []}] if done else []
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def _responses_envelope(plan: Plan, response_id: str, item_id: str, done: bool) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed" if done else "in_progress",
        "model": plan.model,
        "output": [_responses_item(plan, item_id, True)] if done else [],
        "usage": _responses_usage(plan) if done else None,
    }


def _responses_body(plan: Plan) -> dict[str, Any]:
    return _responses_envelope(plan, f"resp_{uuid.uuid4().hex}", f"item_{uuid.uuid4().hex[:16]}", True)


def _responses_stream(plan: Plan, include_usage: bool) -> list[tuple[int | None, bytes]]:
    response_id, item_id = f"resp_{uuid.uuid4().hex}", f"item_{uuid.uuid4().hex[:16]}"
    seq = iter(range(10**6))

    def event(kind: str, **data: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(seq), **data}, event=kind)

    started = _responses_envelope(plan, response_id, item_id, False)
    events: list[tuple[int | None, bytes]] = [
        (0, event("response.created", response=started)),
        (None, event("response.in_progress", response=started)),
        (
            None,
            event("response.output_item.added", output_index=0, item=_responses_item(plan, item_id, False)),
        ),
    ]
    where = {"item_id": item_id, "output_index": 0}
    if plan.tool_call is None:
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append((None, event("response.content_part.added", **where, content_index=0, part=part)))
        for i, piece in enumerate(plan.output_pieces):
            events.append((i, event("response.output_text.delta", **where, content_index=0, delta=piece)))
        events.append((None, event("response.output_text.done", **where, content_index=0, text=plan.text)))
        done_part = {**part, "text": plan.text}
        events.append((None, event("response.content_part.done", **where, content_index=0, part=done_part)))
    else:
        for i, piece in enumerate(plan.output_pieces):
            events.append((i, event("response.function_call_arguments.delta", **where, delta=piece)))
        args = plan.tool_call.arguments_json
        events.append((None, event("response.function_call_arguments.done", **where, arguments=args)))
    events.append(
        (None, event("response.output_item.done", output_index=0, item=_responses_item(plan, item_id, True)))
    )
    finished = _responses_envelope(plan, response_id, item_id, True)
    events.append((None, event("response.completed", response=finished)))
    return events


# ---------------------------------------------------------------- Anthropic messages


def _anthropic_usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    u = plan.usage
    return {
        "input_tokens": u.uncached_input_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "output_tokens": output_tokens,
    }


def _anthropic_block(plan: Plan, done: bool) -> dict[str, Any]:
    if plan.tool_call:
        call = plan.tool_call
        return {
            "type": "tool_use",
            "id": call.call_id.replace("call_", "toolu_"),
            "name": call.name,
            "input": call.arguments if done else {},
        }
    return {"type": "text", "text": plan.text if done else ""}


def _anthropic_stop(plan: Plan) -> str:
    return "tool_use" if plan.tool_call else "end_turn"


def _anthropic_body(plan: Plan) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": [_anthropic_block(plan, True)],
        "stop_reason": _anthropic_stop(plan),
        "stop_sequence": None,
        "usage": _anthropic_usage(plan, plan.usage.output_tokens),
    }


def _anthropic_stream(plan: Plan, include_usage: bool) -> list[tuple[int | None, bytes]]:
    message = {
        **_anthropic_body(plan),
        "content": [],
        "stop_reason": None,
        "usage": _anthropic_usage(plan, 1),
    }
    events: list[tuple[int | None, bytes]] = [
        (0, _sse({"type": "message_start", "message": message}, "message_start")),
        (
            None,
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": _anthropic_block(plan, False)},
                "content_block_start",
            ),
        ),
        (None, _sse({"type": "ping"}, "ping")),
    ]
    for i, piece in enumerate(plan.output_pieces):
        if plan.tool_call is None:
            delta = {"type": "text_delta", "text": piece}
        else:
            delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(
            (i, _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"))
        )
    events.append((None, _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")))
    final = {"type": "message_delta", "delta": {"stop_reason": _anthropic_stop(plan), "stop_sequence": None}}
    final["usage"] = {"output_tokens": plan.usage.output_tokens}
    events.append((None, _sse(final, "message_delta")))
    events.append((None, _sse({"type": "message_stop"}, "message_stop")))
    return events


_STREAMERS = {"chat": _chat_stream, "responses": _responses_stream, "anthropic": _anthropic_stream}
_BODIES = {"chat": _chat_body, "responses": _responses_body, "anthropic": _anthropic_body}


def create_app(profiles: ProfileSet) -> Starlette:
    provider = FakeProvider(profiles)

    async def chat(request: Request) -> Response:
        return await provider.handle(request, "chat")

    async def responses(request: Request) -> Response:
        return await provider.handle(request, "responses")

    async def messages(request: Request) -> Response:
        return await provider.handle(request, "anthropic")

    async def count_tokens(request: Request) -> Response:
        payload = await request.json()
        return JSONResponse({"input_tokens": count_prompt_tokens(request_texts(payload, "anthropic"))})

    async def models(request: Request) -> Response:
        names = sorted(profiles.models)
        return JSONResponse(
            {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "fake"} for n in names]}
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(request: Request) -> Response:
        return JSONResponse(dict(provider.stats))

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/responses", responses, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/_stats", stats, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.provider = provider
    return app
