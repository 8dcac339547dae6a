"""Simulated harness traffic, written as LiteLLM itself writes it: rows of ``"LiteLLM_SpendLogs"``.

Each row has the columns and the ``metadata`` keys LiteLLM's ``get_logging_payload`` produces (key
hash in ``api_key`` and ``metadata.user_api_key``, alias in ``metadata.user_api_key_alias``,
``usage_object`` in the provider's own shape, ``error_information`` on failures, content columns
empty), so the pipeline reads demo rows exactly as it reads production ones.

Deterministic for a seed: Python's ``random.Random`` only, no wall-clock input except the
timeline's anchor, which callers pass in.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

UPSTREAM = {  # alias -> (LiteLLM provider route, upstream model, api_base)
    "kimi-k2-5": (
        "fireworks_ai",
        "accounts/fireworks/models/kimi-k2p5",
        "https://api.fireworks.ai/inference/v1",
    ),
    "kimi-k2-5-turbo": (
        "fireworks_ai",
        "accounts/fireworks/models/kimi-k2p5-turbo",
        "https://api.fireworks.ai/inference/v1",
    ),
    "glm-5": ("fireworks_ai", "accounts/fireworks/models/glm-5", "https://api.fireworks.ai/inference/v1"),
    "glm-5-fast": (
        "fireworks_ai",
        "accounts/fireworks/models/glm-5-fast",
        "https://api.fireworks.ai/inference/v1",
    ),
}

# USD per million tokens: input, cached input read, cache write, output (LiteLLM's own cost map may
# disagree slightly with the project's price seed; the marts flag such rows)
PRICES = {
    "kimi-k2-5": (0.60, 0.15, 0.60, 2.50),
    "kimi-k2-5-turbo": (1.20, 0.30, 1.20, 5.00),
    "glm-5": (1.00, 0.20, 1.00, 3.20),
    "glm-5-fast": (2.00, 0.40, 2.00, 6.40),
}

FAILURES = (  # (error_class, HTTP status, message)
    ("RateLimitError", "429", "litellm.RateLimitError: Fireworks_aiException - rate limit exceeded"),
    ("InternalServerError", "500", "litellm.InternalServerError: Fireworks_aiException - upstream error"),
    ("Timeout", "408", "litellm.Timeout: APITimeoutError - Request timed out"),
)


@dataclass(frozen=True)
class Profile:
    """How one variant behaves. Times in ms; each session also gets its own random effect."""

    ttft_median_ms: float
    ttft_sigma: float = 0.35  # lognormal spread per request
    session_ttft_sigma: float = 0.12  # between-session spread (sessions differ: load, cache)
    tokens_per_s: float = 55.0
    tokens_per_s_sd: float = 8.0
    failure_rate: float = 0.03
    requests: tuple[int, int] = (22, 34)
    background_share: float = 0.15  # share of calls to the background (small) model
    streamed_share: float = 0.92  # the rest are non-streamed calls (completionStartTime == endTime)
    cache_ratio: float = 0.8  # share of the prompt served from the provider's prompt cache
    usage_shape: str = (
        "anthropic"  # 'anthropic' (cache_read_input_tokens) or 'openai' (prompt_tokens_details)
    )
    call_type: str = "anthropic_messages"
    system_prompt_tokens: int = 9000


@dataclass(frozen=True)
class SimSession:
    session_id: str
    key_hash: str
    key_alias: str
    variant: str
    model: str
    background_model: str | None
    profile: Profile
    start: datetime  # naive UTC, as LiteLLM stores timestamps


@dataclass
class Generated:
    rows: list[dict[str, Any]] = field(default_factory=list)
    ends: dict[str, datetime] = field(default_factory=dict)  # session -> its last request's end


def _usage(shape: str, prompt: int, cached: int, written: int, completion: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if shape == "anthropic":
        usage |= {"cache_read_input_tokens": cached, "cache_creation_input_tokens": written}
    else:
        usage |= {"prompt_tokens_details": {"cached_tokens": cached, "cache_creation_tokens": written}}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
    return usage


def _cost(alias: str, prompt: int, cached: int, written: int, completion: int) -> float:
    p_in, p_read, p_write, p_out = PRICES[alias]
    fresh = max(prompt - cached - written, 0)
    return (fresh * p_in + cached * p_read + written * p_write + completion * p_out) / 1e6


def simulate_session(sim: SimSession, rng: random.Random) -> tuple[list[dict[str, Any]], datetime]:
    """One session's requests, back to back with tool-execution gaps; returns rows and the last end."""
    p = sim.profile
    session_effect = math.exp(rng.gauss(0, p.session_ttft_sigma))
    # identifiers derive from the session's (random) id, not from the seeded stream: a second demo run
    # with the same seed produces the same numbers under new, non-colliding request ids
    namespace = uuid.UUID(sim.session_id)
    harness_session_id = str(uuid.uuid5(namespace, "harness-session"))  # the harness's own session id
    context = p.system_prompt_tokens
    now = sim.start
    rows = []
    count = rng.randint(*p.requests)
    # failures are spread by systematic rounding, not drawn per request: with ~30 requests per session
    # a per-request draw makes two variants with the same failure rate differ by chance, and the demo
    # should show the statistics finding the differences the profiles build in, not sampling noise
    failing = set(rng.sample(range(count), min(count, math.floor(count * p.failure_rate + rng.random()))))
    for turn in range(count):
        background = sim.background_model is not None and rng.random() < p.background_share
        alias = sim.background_model if background else sim.model
        route, upstream, api_base = UPSTREAM[alias]
        streamed = rng.random() < p.streamed_share
        tool_turn = rng.random() < 0.7  # most agent turns end in a tool call with a short answer
        completion = int(rng.uniform(30, 160) if tool_turn else rng.uniform(300, 1400))
        prompt = (rng.randint(300, 900) if background else context) + rng.randint(50, 400)
        cached = (
            0
            if background or turn == 0
            else int(min(context, prompt) * p.cache_ratio * rng.uniform(0.9, 1.0))
        )
        written = 0 if background else max(prompt - cached - rng.randint(0, 200), 0) // 3
        ttft = (
            p.ttft_median_ms
            * session_effect
            * math.exp(rng.gauss(0, p.ttft_sigma))
            * (0.6 if background else 1)
        )
        speed = max(rng.gauss(p.tokens_per_s, p.tokens_per_s_sd), 5.0) * (1.6 if background else 1)
        generation = completion / speed * 1000
        overhead = rng.uniform(2.0, 9.0)
        failed = turn in failing
        start = now
        if failed:
            error_class, code, message = rng.choice(FAILURES)
            end = start + timedelta(milliseconds=rng.uniform(200, 4000))
            completion_start = end
            prompt = cached = written = completion = 0
        else:
            completion_start = start + timedelta(milliseconds=ttft)
            end = completion_start + timedelta(milliseconds=generation)
            if not streamed:
                completion_start = end  # LiteLLM logs completionStartTime = endTime for non-streamed calls
        request_id = (
            f"msg_{uuid.uuid5(namespace, f'request-{turn}').hex[:24]}"
            if p.call_type == "anthropic_messages"
            else f"chatcmpl-{uuid.uuid5(namespace, f'request-{turn}')}"
        )
        call_id = str(uuid.uuid5(namespace, f"call-{turn}"))
        usage = None if failed else _usage(p.usage_shape, prompt, cached, written, completion)
        metadata: dict[str, Any] = {
            "user_api_key": sim.key_hash,
            "user_api_key_alias": sim.key_alias,
            "user_api_key_team_id": None,
            "user_api_key_org_id": None,
            "user_api_key_user_id": None,
            "user_api_key_team_alias": None,
            "spend_logs_metadata": None,
            "requester_ip_address": "127.0.0.1",
            "applied_guardrails": [],
            "batch_models": None,
            "mcp_tool_call_metadata": None,
            "vector_store_request_metadata": None,
            "guardrail_information": None,
            "usage_object": usage,
            "model_map_information": {"model_map_key": upstream, "model_map_value": None},
            "additional_usage_values": (
                {}
                if usage is None
                else {
                    k: v
                    for k, v in usage.items()
                    if k not in ("prompt_tokens", "completion_tokens", "total_tokens")
                }
            ),
            "status": "failure" if failed else "success",
            "error_information": (
                {
                    "error_code": code,
                    "error_class": error_class,
                    "llm_provider": route,
                    "error_message": message,
                    "traceback": "",
                }
                if failed
                else None
            ),
            "litellm_overhead_time_ms": round(overhead, 3),
            "attempted_retries": 0,
            "max_retries": 1,
            "cost_breakdown": None,
            "litellm_call_id": call_id,
        }
        spend = 0.0 if failed else round(_cost(alias, prompt, cached, written, completion), 8)
        rows.append(
            {
                "request_id": request_id,
                "call_type": p.call_type,
                "api_key": sim.key_hash,
                "spend": spend,
                "total_tokens": prompt + completion,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "startTime": start,
                "endTime": end,
                "completionStartTime": completion_start,
                "model": upstream,
                "model_id": f"{route}-{alias}",
                "model_group": alias,
                "custom_llm_provider": route,
                "api_base": api_base,
                "user": "",
                "metadata": metadata,
                "cache_hit": "False",
                "cache_key": "Cache OFF",
                "request_tags": [],
                "end_user": "",
                "requester_ip_address": "127.0.0.1",
                "session_id": harness_session_id,
                "status": "failure" if failed else "success",
                "request_duration_ms": int((end - start).total_seconds() * 1000),
                "litellm_call_id": call_id,
                # LiteLLM writes spend logs in batches, seconds after the request ends
                "created_at": end + timedelta(seconds=rng.uniform(1, 12)),
            }
        )
        if not background and not failed:
            context = prompt + completion  # the conversation grows turn by turn
        now = end + timedelta(milliseconds=rng.uniform(800, 9000))  # tool execution, then the next turn
    return rows, (rows[-1]["endTime"] if rows else sim.start)


KEYS = (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "completionStartTime", "model", "model_id", "model_group", "custom_llm_provider",
    "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "end_user", "requester_ip_address",
    "session_id", "status", "request_duration_ms", "litellm_call_id", "created_at",
)  # fmt: skip
JSON_KEYS = frozenset({"metadata", "request_tags"})


def write_rows(litellm_url: str, rows: list[dict[str, Any]]) -> int:
    """COPY rows into LiteLLM's ``"LiteLLM_SpendLogs"`` (content columns keep their ``{}`` default)."""
    columns = ", ".join(f'"{k}"' for k in (*KEYS, "updated_at"))
    with (
        psycopg.connect(litellm_url) as conn,
        conn.cursor() as cur,
        cur.copy(f'copy "LiteLLM_SpendLogs" ({columns}) from stdin') as copy,
    ):
        for r in rows:
            copy.write_row([json.dumps(r[k]) if k in JSON_KEYS else r[k] for k in KEYS] + [r["created_at"]])
    return len(rows)
