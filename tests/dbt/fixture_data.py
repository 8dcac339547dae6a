"""Fixture telemetry with hand-computed answers: two variants x at least three included sessions.

Everything here is written in LiteLLM's own shape (``"LiteLLM_SpendLogs"`` rows) plus registry rows,
so the same data can be landed by the real ingestion asset or inserted straight into ``raw.*``.
The expected values the tests assert are written out by hand in ``expected.py``.

Experiment ``fx-exp`` compares ``fx-opus`` (baseline: Claude Opus via Claude Code, background
Sonnet; Anthropic usage shape, /v1/messages) with ``fx-kimi`` (Kimi K2.5 via OpenCode; OpenAI usage
shape, /chat/completions). All times are 2026-11-20 UTC.

| session | variant | status / outcome     | included | requests |
|---------|---------|----------------------|----------|----------|
| A1      | fx-opus | completed / valid    | yes      | a1-1..4 (a1-3 background, a1-4 rate-limited) |
| A2      | fx-opus | completed / -        | yes      | a2-1..3 (a2-2 cost mismatch, a2-3 suspect TTFT) |
| A3      | fx-opus | failed / -           | yes      | a3-1..3 (a3-2 failure by error info only) |
| A4      | fx-opus | aborted / -          | aborted  | a4-1 |
| B1      | fx-kimi | completed / valid    | yes      | b1-1..3 (b1-2 attributed by alias only) |
| B2      | fx-kimi | completed / valid    | yes      | b2-1..5 (b2-3 failure, b2-5 outside window) |
| B3      | fx-kimi | completed / valid    | yes      | b3-1..3 |
| B4      | fx-kimi | completed / invalid  | invalid  | b4-1 |
| B5      | fx-kimi | active               | active   | b5-1 |
| -       | -       | unattributed         | -        | u-1 (unknown key), u-2 (unknown alias, no price) |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DAY = datetime(2026, 11, 20, tzinfo=UTC)
EXPERIMENT = "fx-exp"
VARIANT_A = "fx-opus"
VARIANT_B = "fx-kimi"
TASK_CARD = "fx-task"


def at(hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def key_hash(code: str) -> str:
    """sha256 of a (fake) session key: what LiteLLM stores in the spend log's ``api_key``."""
    return hashlib.sha256(f"sk-fixture-{code}".encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    code: str
    session_id: str
    variant: str
    status: str
    outcome: str | None
    started: str
    ended: str | None

    @property
    def key_alias(self) -> str:
        return f"hb-{self.session_id}"

    @property
    def key_hash(self) -> str:
        return key_hash(self.code)


SESSIONS = [
    Session(
        "A1", "a1000000-0000-4000-8000-000000000001", VARIANT_A, "completed", "valid", "10:00:00", "10:30:00"
    ),
    Session(
        "A2", "a2000000-0000-4000-8000-000000000002", VARIANT_A, "completed", None, "11:00:00", "11:30:00"
    ),
    Session("A3", "a3000000-0000-4000-8000-000000000003", VARIANT_A, "failed", None, "12:00:00", "12:30:00"),
    Session("A4", "a4000000-0000-4000-8000-000000000004", VARIANT_A, "aborted", None, "13:00:00", "13:10:00"),
    Session(
        "B1", "b1000000-0000-4000-8000-000000000001", VARIANT_B, "completed", "valid", "10:00:00", "10:30:00"
    ),
    Session(
        "B2", "b2000000-0000-4000-8000-000000000002", VARIANT_B, "completed", "valid", "11:00:00", "11:30:00"
    ),
    Session(
        "B3", "b3000000-0000-4000-8000-000000000003", VARIANT_B, "completed", "valid", "12:00:00", "12:30:00"
    ),
    Session(
        "B4",
        "b4000000-0000-4000-8000-000000000004",
        VARIANT_B,
        "completed",
        "invalid",
        "13:00:00",
        "13:30:00",
    ),
    Session("B5", "b5000000-0000-4000-8000-000000000005", VARIANT_B, "active", None, "14:00:00", None),
]
SESSION_BY_CODE = {s.code: s for s in SESSIONS}

VARIANTS = {
    VARIANT_A: {
        "provider": "anthropic",
        "model_alias": "claude-opus-4-6",
        "background_model_alias": "claude-sonnet-4-6",
        "harness": "claude-code",
        "tags": {"harness": "claude-code"},
    },
    VARIANT_B: {
        "provider": "fireworks",
        "model_alias": "kimi-k2-5",
        "background_model_alias": None,
        "harness": "opencode",
        "tags": {"harness": "opencode"},
    },
}


@dataclass(frozen=True)
class Request:
    """One spend-log row. ``ttft_ms``: int = streamed with that TTFT; "end" = completionStartTime
    equal to endTime; None = completionStartTime NULL. ``usage``: None = no usage object;
    ("anthropic", cache_read, cache_creation) or ("openai", cached_tokens)."""

    request_id: str
    session: str | None  # session code, None = unattributed
    attribution: str  # "hash" | "alias" | "none"
    model_group: str
    call_type: str
    start: str
    latency_ms: int
    ttft_ms: int | str | None
    prompt_tokens: int
    completion_tokens: int
    usage: tuple | None
    status: str | None
    error: tuple[str, str] | None
    spend: float
    lag_s: int  # _ingested_at - endTime when inserted straight into raw
    provider: str = ""
    cache_hit: str | None = "False"


OPUS, SONNET, KIMI = "claude-opus-4-6", "claude-sonnet-4-6", "kimi-k2-5"
MSG, CHAT = "anthropic_messages", "acompletion"

# fmt: off
REQUESTS = [
    # --- A1: completed/valid -------------------------------------------------------------------
    Request("a1-1", "A1", "hash", OPUS, MSG, "10:01:00", 2000, 400, 10000, 500, ("anthropic", 4000, 1000), "success", None, 0.04575, 30, "anthropic"),
    Request("a1-2", "A1", "hash", OPUS, MSG, "10:02:00", 3000, 600, 20000, 1000, ("anthropic", 16000, 0), "success", None, 0.053, 30, "anthropic"),
    Request("a1-3", "A1", "hash", SONNET, CHAT, "10:03:00", 1000, "end", 1000, 100, ("anthropic", None, None), "success", None, 0.0045, 30, "anthropic"),
    Request("a1-4", "A1", "hash", OPUS, MSG, "10:04:00", 500, None, 0, 0, None, "failure", ("RateLimitError", "429"), 0.0, 90, "anthropic"),
    # --- A2: completed/no outcome --------------------------------------------------------------
    Request("a2-1", "A2", "hash", OPUS, MSG, "11:01:00", 4000, 1000, 10000, 2000, ("anthropic", 0, 10000), "success", None, 0.1125, 30, "anthropic"),
    Request("a2-2", "A2", "hash", OPUS, MSG, "11:02:00", 2000, 500, 12000, 1000, ("anthropic", 10000, 0), "success", None, 0.05, 30, "anthropic"),
    Request("a2-3", "A2", "hash", OPUS, MSG, "11:03:00", 3000, "end", 1000, 100, ("anthropic", 0, None), "success", None, 0.0075, 30, "anthropic"),
    # --- A3: failed (still included) -----------------------------------------------------------
    Request("a3-1", "A3", "hash", OPUS, MSG, "12:01:00", 1000, 200, 5000, 200, ("anthropic", 0, 0), "success", None, 0.03, 30, "anthropic"),
    Request("a3-2", "A3", "hash", OPUS, MSG, "12:02:00", 100, None, 0, 0, None, None, ("APIConnectionError", "500"), 0.0, 30, "anthropic"),
    Request("a3-3", "A3", "hash", OPUS, MSG, "12:03:00", 30000, None, 0, 0, None, "failure", ("Timeout", "408"), 0.0, 30, "anthropic"),
    # --- A4: aborted (excluded) ----------------------------------------------------------------
    Request("a4-1", "A4", "hash", OPUS, MSG, "13:01:00", 5000, 1000, 1000, 100, ("anthropic", 0, 0), "success", None, 0.0075, 30, "anthropic"),
    # --- B1 ------------------------------------------------------------------------------------
    Request("b1-1", "B1", "hash", KIMI, CHAT, "10:01:00", 1500, 300, 10000, 1000, ("openai", 5000), "success", None, 0.0065, 30, "fireworks_ai"),
    Request("b1-2", "B1", "alias", KIMI, CHAT, "10:02:00", 2500, 500, 20000, 2000, ("openai", 0), "success", None, 0.018, 30, "fireworks_ai"),
    Request("b1-3", "B1", "hash", KIMI, CHAT, "10:03:00", 3500, 700, 10000, 1000, ("openai", 8000), "success", None, 0.005, 30, "fireworks_ai"),
    # --- B2 ------------------------------------------------------------------------------------
    Request("b2-1", "B2", "hash", KIMI, CHAT, "11:01:00", 1000, 100, 4000, 500, ("openai", 0), "success", None, 0.0039, 30, "fireworks_ai"),
    Request("b2-2", "B2", "hash", KIMI, CHAT, "11:02:00", 2000, 300, 4000, 500, ("openai", 2000), "success", None, 0.0029, 30, "fireworks_ai"),
    Request("b2-3", "B2", "hash", KIMI, CHAT, "11:03:00", 200, None, 0, 0, None, "failure", ("RateLimitError", "429"), 0.0, 30, "fireworks_ai"),
    Request("b2-4", "B2", "hash", KIMI, CHAT, "11:04:00", 3000, 500, 4000, 500, ("openai", 4000), "success", None, 0.0019, 30, "fireworks_ai"),
    Request("b2-5", "B2", "hash", KIMI, CHAT, "11:40:00", 1000, 200, 1000, 100, ("openai", 0), "success", None, 0.0009, 30, "fireworks_ai"),
    # --- B3 ------------------------------------------------------------------------------------
    Request("b3-1", "B3", "hash", KIMI, CHAT, "12:01:00", 2000, 400, 8000, 800, ("openai", 0), "success", None, 0.0072, 30, "fireworks_ai"),
    Request("b3-2", "B3", "hash", KIMI, CHAT, "12:02:00", 4000, 800, 8000, 800, ("openai", 0), "success", None, 0.0072, 30, "fireworks_ai"),
    Request("b3-3", "B3", "hash", KIMI, CHAT, "12:03:00", 6000, 1200, 8000, 800, ("openai", 0), "success", None, 0.0072, 30, "fireworks_ai"),
    # --- B4 (invalid), B5 (active) -------------------------------------------------------------
    Request("b4-1", "B4", "hash", KIMI, CHAT, "13:01:00", 1000, 100, 1000, 100, ("openai", 0), "success", None, 0.0009, 30, "fireworks_ai"),
    Request("b5-1", "B5", "hash", KIMI, CHAT, "14:01:00", 1000, 100, 1000, 100, ("openai", 0), "success", None, 0.0009, 30, "fireworks_ai"),
    # --- unattributed --------------------------------------------------------------------------
    Request("u-1", None, "none", "gpt-5.4", CHAT, "10:05:00", 700, "end", 100, 10, None, "success", None, 0.0002, 30, "openai", cache_hit=""),
    Request("u-2", None, "none", "mystery-model", CHAT, "10:06:00", 800, 100, 100, 10, ("openai", 0), "success", None, 0.0, 30, "openai", cache_hit="True"),
]
# fmt: on

# Prometheus: the cumulative request counter per key alias (catalog query
# requests_cumulative_by_key_alias). A1: 1, 3, 4 -> 4 (matches its 4 spend-log rows).
# B2: 2, 3, then a proxy restart, 1 -> 3 + 1 = 4 (spend logs: 5, drift +1).
PROMETHEUS_QUERY = "requests_cumulative_by_key_alias"
PROMETHEUS_POINTS = [
    ("A1", "10:02:00", 1.0),
    ("A1", "10:03:00", 3.0),
    ("A1", "10:05:00", 4.0),
    ("B2", "11:02:00", 2.0),
    ("B2", "11:03:00", 3.0),
    ("B2", "11:05:00", 1.0),
]

# Rejected landing rows (hour 10: 2, hour 12: 1).
REJECTED = [
    ("bad-1", "2026-11-20-10:00", "startTime missing", "10:30:00"),
    ("bad-2", "2026-11-20-10:00", "endTime before startTime", "10:31:00"),
    ("bad-3", "2026-11-20-12:00", "request_id missing", "12:40:00"),
]


def _usage_object(r: Request) -> dict[str, Any] | None:
    if r.usage is None:
        return None
    base: dict[str, Any] = {
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
    }
    if r.usage[0] == "anthropic":
        _, read, write = r.usage
        if read is not None:
            base["cache_read_input_tokens"] = read
        if write is not None:
            base["cache_creation_input_tokens"] = write
    else:
        base["prompt_tokens_details"] = {"cached_tokens": r.usage[1], "audio_tokens": None}
    return base


def spend_log_row(r: Request) -> dict[str, Any]:
    """The row as LiteLLM writes it into ``"LiteLLM_SpendLogs"`` (naive UTC timestamps)."""
    session = SESSION_BY_CODE.get(r.session or "")
    start = at(r.start)
    end = start + timedelta(milliseconds=r.latency_ms)
    if r.ttft_ms == "end":
        completion_start = end
    elif r.ttft_ms is None:
        completion_start = None
    else:
        completion_start = start + timedelta(milliseconds=int(r.ttft_ms))
    if r.attribution == "hash":
        api_key, alias = session.key_hash, session.key_alias
    elif r.attribution == "alias":
        api_key, alias = key_hash(f"rotated-{r.session}"), session.key_alias
    else:
        api_key, alias = (
            key_hash(f"stranger-{r.request_id}"),
            ("someone-else" if r.request_id == "u-2" else None),
        )
    metadata: dict[str, Any] = {
        "user_api_key": api_key,
        "user_api_key_alias": alias,
        "user_api_key_team_id": None,
        "usage_object": _usage_object(r),
        "error_information": (
            {
                "error_class": r.error[0],
                "error_code": r.error[1],
                "llm_provider": r.provider,
                "error_message": "x",
            }
            if r.error
            else None
        ),
        "litellm_overhead_time_ms": 12.5,
        "attempted_retries": 1 if r.error and r.error[1] == "429" else 0,
        "litellm_call_id": f"call-{r.request_id}",
    }
    naive = {"start": start, "end": end, "completion": completion_start}
    naive = {k: (v.replace(tzinfo=None) if v else None) for k, v in naive.items()}
    return {
        "request_id": r.request_id,
        "call_type": r.call_type,
        "api_key": api_key,
        "spend": r.spend,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "startTime": naive["start"],
        "endTime": naive["end"],
        "completionStartTime": naive["completion"],
        "model": f"upstream/{r.model_group}",
        "model_id": "m-1",
        "model_group": r.model_group,
        "custom_llm_provider": r.provider,
        "api_base": "http://127.0.0.1:9/v1",
        "user": "",
        "metadata": metadata,
        "cache_hit": r.cache_hit,
        "cache_key": "Cache OFF",
        "request_tags": ["harness-bench"],
        "team_id": "",
        "end_user": "",
        "requester_ip_address": "",
        "messages": {},
        "response": {},
        "proxy_server_request": {},
        "session_id": f"litellm-{r.request_id}",
        "status": r.status,
        # the column stays NULL for one row: litellm_call_id then comes from metadata
        "litellm_call_id": None if r.request_id == "a1-2" else f"call-{r.request_id}",
    }


def raw_row(r: Request, *, partition_key: str | None = None) -> dict[str, Any]:
    """A ``raw.litellm_spend_logs`` row for the same request (the landing contract), used until the
    ingestion asset lands rows itself: typed columns + payload keyed by LiteLLM's column names."""
    row = spend_log_row(r)
    start = at(r.start)
    end = start + timedelta(milliseconds=r.latency_ms)
    completion = row["completionStartTime"].replace(tzinfo=UTC) if row["completionStartTime"] else None
    payload = {k: v for k, v in row.items() if k not in ("messages", "response", "proxy_server_request")}
    for k in ("startTime", "endTime", "completionStartTime"):
        payload[k] = payload[k].isoformat() if payload[k] else None
    return {
        "request_id": r.request_id,
        "start_time": start,
        "end_time": end,
        "completion_start_time": completion,
        "api_key": row["api_key"],
        "key_alias": row["metadata"]["user_api_key_alias"],
        "model_group": r.model_group,
        "model": row["model"],
        "custom_llm_provider": r.provider,
        "call_type": r.call_type,
        "status": r.status,
        "spend": r.spend,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
        "session_id": row["session_id"],
        "litellm_call_id": row["litellm_call_id"],
        "payload": json.dumps(payload),
        "_partition_key": partition_key or start.strftime("%Y-%m-%d-%H:00"),
        "_source": "litellm_db",
        "_ingested_at": end + timedelta(seconds=r.lag_s),
    }
