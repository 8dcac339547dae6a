"""``"LiteLLM_SpendLogs"`` rows in LiteLLM's real shape, and hand-made malformed ones.

Shapes follow LiteLLM 1.106.2's ``get_logging_payload`` (``litellm/proxy/spend_tracking/
spend_tracking_utils.py``): ``metadata`` carries every ``SpendLogsMetadata`` key (``None`` unless
set), the key hash in ``api_key`` and ``metadata.user_api_key``, the alias in
``metadata.user_api_key_alias``, the provider's own usage in ``metadata.usage_object`` (OpenAI:
``prompt_tokens_details.cached_tokens``; Anthropic: ``cache_read_input_tokens`` /
``cache_creation_input_tokens``), ``additional_usage_values`` as LiteLLM derives it,
``error_information`` and ``status = 'failure'`` on failures, ``completionStartTime = endTime`` on
non-streamed calls, content columns ``{}``. ``tests/pipeline/test_spendlog_rows.py`` checks the key
set against LiteLLM's source when the ``proxy`` extra is installed.

A row is a ``dict`` keyed by LiteLLM's column names with Python values (naive UTC datetimes,
``metadata`` any JSON value); :func:`insert_rows` writes them into the real table. Reused by the
dbt tests and anything else that needs LiteLLM-shaped telemetry (import
``tests.pipeline.spendlog_rows``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

# SpendLogsMetadata's keys in the order _get_spend_logs_metadata writes them (LiteLLM 1.106.2)
METADATA_KEYS = (
    "actor_agent_id",
    "target_agent_id",
    "billing_agent_id",
    "agent_execution_mode",
    "verified_human_user_id",
    "additional_usage_values",
    "user_api_key",
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_project_id",
    "user_api_key_project_alias",
    "user_api_key_org_id",
    "user_api_key_user_id",
    "user_api_key_team_alias",
    "spend_logs_metadata",
    "requester_ip_address",
    "user_agent",
    "litellm_call_id",
    "applied_guardrails",
    "mcp_tool_call_metadata",
    "vector_store_request_metadata",
    "routing_decision",
    "internal_call_origin",
    "guardrail_information",
    "eval_information",
    "status",
    "proxy_server_request",
    "batch_models",
    "batch_successful_requests",
    "batch_failed_requests",
    "error_information",
    "usage_object",
    "model_map_information",
    "cold_storage_object_key",
    "litellm_overhead_time_ms",
    "attempted_retries",
    "max_retries",
    "attempted_fallbacks",
    "original_model_group",
    "cost_breakdown",
    "compression_savings",
    "litellm_gateway_injected_cache",
    "autorouter_savings",
    "autorouter_savings_estimate",
    "autorouter_baseline_observation",
    "router_metadata",
    "azure_spillover",
    "used_client_oauth_token",
    "litellm_roi_estimator",
)

# every column of the real table a row may set (content columns stay at LiteLLM's default '{}')
TABLE_COLUMNS = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "organization_id",
    "end_user",
    "requester_ip_address",
    "messages",
    "response",
    "proxy_server_request",
    "session_id",
    "status",
    "request_duration_ms",
    "litellm_call_id",
    "created_at",
    "updated_at",
)

JSON_COLUMNS = frozenset({"metadata", "request_tags", "messages", "response", "proxy_server_request"})

T0 = datetime(2026, 11, 20, 10, 0, 0)  # naive UTC, like LiteLLM's columns; in the past: its partitions exist


def key_hash(raw_key: str) -> str:
    """sha256 hex of a virtual key: LiteLLM's ``hash_token`` (what ``api_key`` holds)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


DEFAULT_KEY = "sk-hb-test-session-key-0001"
DEFAULT_ALIAS = "hb-00000000-0000-4000-8000-000000000001"


def metadata(
    *,
    key: str = DEFAULT_KEY,
    alias: str = DEFAULT_ALIAS,
    call_id: str = "call-1",
    usage: dict[str, Any] | None = None,
    overhead_ms: float | None = 3.2,
    error: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A full ``metadata`` object as LiteLLM writes it (all SpendLogsMetadata keys present)."""
    md: dict[str, Any] = dict.fromkeys(METADATA_KEYS)
    md.update(
        user_api_key=key_hash(key),
        user_api_key_alias=alias,
        user_api_key_user_id="operator",
        litellm_call_id=call_id,
        usage_object=usage,
        litellm_overhead_time_ms=overhead_ms,
        attempted_retries=0,
        max_retries=2,
        litellm_roi_estimator=False,
        additional_usage_values=_additional_usage(usage),
    )
    if error is not None:
        md.update(status="failure", error_information=error)
    md.update(extra)
    return md


def _additional_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """What LiteLLM copies out of the usage object (everything but the three token totals)."""
    if not usage:
        return {}
    extra = {
        k: v for k, v in usage.items() if k not in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    details = extra.get("prompt_tokens_details")
    if isinstance(details, dict):
        cached = details.get("cached_tokens")
        if isinstance(cached, int) and cached > 0 and "cache_read_input_tokens" not in extra:
            extra["cache_read_input_tokens"] = cached
    return extra


def openai_usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def anthropic_usage(
    prompt: int, completion: int, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def success_row(
    request_id: str,
    start: datetime = T0,
    *,
    latency_ms: int = 2500,
    ttft_ms: int | None = None,
    key: str = DEFAULT_KEY,
    alias: str = DEFAULT_ALIAS,
    model_group: str = "gpt-4o",
    model: str = "gpt-4o-2024-08-06",
    provider: str = "openai",
    api_base: str = "https://api.openai.com/v1",
    call_type: str = "acompletion",
    prompt: int = 100,
    completion: int = 20,
    usage: dict[str, Any] | None = None,
    spend: float = 0.0004,
    created_at: datetime | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A successful request. ``ttft_ms`` set = streamed (completionStartTime before endTime);
    unset = non-streamed (LiteLLM writes completionStartTime = endTime)."""
    end = start + timedelta(milliseconds=latency_ms)
    call_id = f"call-{request_id}"
    usage = usage if usage is not None else openai_usage(prompt, completion)
    row: dict[str, Any] = {
        "request_id": request_id,
        "call_type": call_type,
        "api_key": key_hash(key),
        "spend": spend,
        "total_tokens": usage["total_tokens"],
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "startTime": start,
        "endTime": end,
        "completionStartTime": start + timedelta(milliseconds=ttft_ms) if ttft_ms is not None else end,
        "model": model,
        "model_id": f"deployment-{model_group}",
        "model_group": model_group,
        "custom_llm_provider": provider,
        "api_base": api_base,
        "user": "operator",
        "metadata": metadata(key=key, alias=alias, call_id=call_id, usage=usage),
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": [],
        "team_id": "",
        "organization_id": "",
        "end_user": "",
        "requester_ip_address": None,
        "session_id": f"trace-{request_id}",
        "status": "success",
        "request_duration_ms": latency_ms,
        "litellm_call_id": call_id,
        "created_at": created_at if created_at is not None else end + timedelta(seconds=5),
    }
    row["updated_at"] = row["created_at"]
    row.update(overrides)
    return row


def streamed_row(request_id: str, start: datetime = T0, *, ttft_ms: int = 800, **kw: Any) -> dict[str, Any]:
    return success_row(request_id, start, ttft_ms=ttft_ms, **kw)


def failure_row(
    request_id: str,
    start: datetime = T0,
    *,
    error_code: str = "429",
    error_class: str = "RateLimitError",
    message: str = "litellm.RateLimitError: OpenAIException - Rate limit reached for gpt-4o",
    latency_ms: int = 400,
    **kw: Any,
) -> dict[str, Any]:
    """A failed request as the proxy's failure hook writes it: zero tokens and spend, status
    'failure', ``metadata.status = 'failure'`` and ``metadata.error_information``."""
    error = {
        "error_code": error_code,
        "error_class": error_class,
        "llm_provider": kw.get("provider", "openai"),
        "traceback": 'Traceback (most recent call last):\n  File "router.py", line 1, in acompletion\n',
        "error_message": message,
    }
    row = success_row(
        request_id, start, latency_ms=latency_ms, usage=openai_usage(0, 0), spend=0.0, status="failure", **kw
    )
    row["metadata"] = metadata(
        alias=kw.get("alias", DEFAULT_ALIAS),
        key=kw.get("key", DEFAULT_KEY),
        call_id=row["litellm_call_id"],
        usage=None,
        error=error,
    )
    return row


def openai_cached_row(
    request_id: str, start: datetime = T0, *, cached: int = 64, **kw: Any
) -> dict[str, Any]:
    return streamed_row(request_id, start, usage=openai_usage(100, 20, cached=cached), **kw)


def anthropic_cached_row(
    request_id: str, start: datetime = T0, *, cache_read: int = 9000, cache_write: int = 300, **kw: Any
) -> dict[str, Any]:
    kw.setdefault("model_group", "claude-sonnet")
    kw.setdefault("model", "claude-sonnet-4-5-20250929")
    kw.setdefault("provider", "anthropic")
    kw.setdefault("api_base", "https://api.anthropic.com/v1/messages")
    kw.setdefault("call_type", "anthropic_messages")
    return streamed_row(
        request_id,
        start,
        usage=anthropic_usage(9500, 120, cache_read=cache_read, cache_write=cache_write),
        **kw,
    )


# --- malformed rows (each violates exactly one rule) ----------------------------------------------


def empty_request_id_row(start: datetime = T0) -> dict[str, Any]:
    return success_row("", start)


def inverted_times_row(request_id: str, start: datetime = T0) -> dict[str, Any]:
    return success_row(request_id, start, endTime=start - timedelta(seconds=2), request_duration_ms=-2000)


def negative_tokens_row(request_id: str, start: datetime = T0) -> dict[str, Any]:
    row = success_row(request_id, start)
    row.update(prompt_tokens=-5, total_tokens=15)
    return row


def metadata_string_row(request_id: str, start: datetime = T0) -> dict[str, Any]:
    """metadata stored as a JSON *string* holding JSON (double-encoded)."""
    return success_row(request_id, start, metadata=json.dumps({"user_api_key_alias": DEFAULT_ALIAS}))


def metadata_array_row(request_id: str, start: datetime = T0) -> dict[str, Any]:
    return success_row(request_id, start, metadata=[{"user_api_key_alias": DEFAULT_ALIAS}])


def oversize_row(request_id: str, start: datetime = T0, *, size: int = 300_000) -> dict[str, Any]:
    """A row whose metadata exceeds the 256 kB limit (a runaway traceback)."""
    row = success_row(request_id, start)
    row["metadata"]["error_information"] = {"traceback": "x" * size}
    return row


# --- writing --------------------------------------------------------------------------------------


def insert_rows(url_or_conn: str | psycopg.Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows into the real ``"LiteLLM_SpendLogs"`` (JSON columns adapted, defaults kept)."""
    rows = list(rows)
    if not rows:
        return 0
    if isinstance(url_or_conn, str):
        with psycopg.connect(url_or_conn, autocommit=True) as conn:
            return insert_rows(conn, rows)
    conn = url_or_conn
    n = 0
    for row in rows:
        cols = [c for c in TABLE_COLUMNS if c in row]
        values = [Jsonb(row[c]) if c in JSON_COLUMNS else row[c] for c in cols]
        conn.execute(
            sql.SQL('insert into "LiteLLM_SpendLogs" ({}) values ({})').format(
                sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                sql.SQL(", ").join(sql.Placeholder() * len(cols)),
            ),
            values,
        )
        n += 1
    return n


def standard_set(hour: datetime = T0) -> list[dict[str, Any]]:
    """The well-formed shapes, one of each, inside ``hour``: 5 rows."""
    return [
        success_row("req-success", hour + timedelta(minutes=1)),
        streamed_row("req-streamed", hour + timedelta(minutes=2), ttft_ms=750),
        failure_row("req-failure", hour + timedelta(minutes=3)),
        openai_cached_row("req-openai-cached", hour + timedelta(minutes=4), cached=64),
        anthropic_cached_row("req-anthropic-cached", hour + timedelta(minutes=5)),
    ]


def malformed_set(hour: datetime = T0) -> list[dict[str, Any]]:
    """One row per rejection rule inside ``hour``: 6 rows."""
    return [
        empty_request_id_row(hour + timedelta(minutes=10)),
        inverted_times_row("bad-inverted", hour + timedelta(minutes=11)),
        negative_tokens_row("bad-negative", hour + timedelta(minutes=12)),
        metadata_string_row("bad-md-string", hour + timedelta(minutes=13)),
        metadata_array_row("bad-md-array", hour + timedelta(minutes=14)),
        oversize_row("bad-oversize", hour + timedelta(minutes=15)),
    ]
