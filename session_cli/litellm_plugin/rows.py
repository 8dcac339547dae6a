"""Spend-log rows shaped exactly like the ones a database-backed LiteLLM inserts.

- successes: LiteLLM's own ``get_logging_payload`` (the function its DB writer uses);
- failures: the same columns from the request's ``standard_logging_object``
  (``get_logging_payload`` is not meant for failure events), ``status = 'failure'`` and
  ``metadata.error_information`` with ``error_class`` / ``error_code``; requests refused before
  any model call (unknown, revoked or expired key, model not allowed) get one too (LiteLLM
  builds their logging payload in ``_handle_logging_proxy_only_error``), so an unknown key shows
  up as an unattributed request instead of vanishing. Which failures get a row, and when, is the
  writer's business (:mod:`.spend_logs`).

Whatever LiteLLM hands over, ``messages``, ``response`` and ``proxy_server_request`` are stored as
``{}`` and the ``api_key`` column only ever holds a sha256 hex digest (or LiteLLM's master-key
alias): no content and no secret reaches the table.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from session_cli.keys import hash_key

CONTENT_COLUMNS = ("messages", "response", "proxy_server_request")
MASTER_KEY_ALIAS = "litellm_proxy_master_key"  # litellm.constants.LITELLM_PROXY_MASTER_KEY_ALIAS
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ERROR_MESSAGE_MAX = 500


def naive_utc(value: object) -> datetime | None:
    """A timestamp for a ``timestamp(3) without time zone`` column holding UTC (LiteLLM's convention)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    # a naive datetime is local time here, exactly as LiteLLM's own _ensure_datetime_utc reads it
    return value.astimezone(UTC).replace(tzinfo=None)


def safe_api_key(value: object) -> str:
    """The ``api_key`` column: a sha256 hex digest, LiteLLM's master-key alias, or ''; never a raw key."""
    if not isinstance(value, str) or not value:
        return ""
    if _SHA256.match(value) or value == MASTER_KEY_ALIAS:
        return value
    return hash_key(re.sub(r"(?i)^bearer\s+", "", value))


def _json_value(value: object, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return default
    return value


def finish_row(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Python values ready for ``"LiteLLM_SpendLogs"``, content emptied, the key column checked."""
    row = dict(payload)
    now = datetime.now(UTC).replace(tzinfo=None)
    for column in ("startTime", "endTime", "completionStartTime"):
        row[column] = naive_utc(row.get(column))
    metadata = _json_value(row.get("metadata"), {})
    if isinstance(metadata, dict):
        metadata.pop("proxy_server_request", None)
        metadata.pop("messages", None)
        if "user_api_key" in metadata:
            metadata["user_api_key"] = safe_api_key(metadata["user_api_key"]) or None
    row["metadata"] = metadata
    row["request_tags"] = _json_value(row.get("request_tags"), [])
    for column in CONTENT_COLUMNS:
        row[column] = {}
    row["api_key"] = safe_api_key(row.get("api_key"))
    row["request_id"] = str(row["request_id"])
    row.setdefault("created_at", now)
    row.setdefault("updated_at", now)
    return row


def success_row(
    kwargs: dict[str, Any], response_obj: object, start_time: datetime, end_time: datetime
) -> dict:
    """LiteLLM's own spend-log payload for a successful call (what its DB writer would insert)."""
    from litellm.proxy.spend_tracking import spend_tracking_utils as stu

    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:  # pragma: no cover  (outside a proxy process)
        llm_router = None
    payload: Mapping[str, Any] = stu.get_logging_payload(
        kwargs=kwargs,
        response_obj=response_obj,
        start_time=start_time,
        end_time=end_time,
        llm_router=llm_router,
    )
    retention = stu.configured_spend_logs_metadata_fields()
    payload = stu.spend_log_row_with_retained_metadata(payload, retention)
    return finish_row(payload)


def _error_information(raw: Mapping[str, Any] | None, fallback_message: str | None) -> dict[str, Any]:
    info = dict(raw or {})
    info.pop("traceback", None)  # stack frames can quote request content
    message = info.get("error_message") or fallback_message or ""
    info["error_message"] = str(message)[:_ERROR_MESSAGE_MAX]
    info["error_code"] = None if info.get("error_code") in (None, "") else str(info["error_code"])
    info.setdefault("error_class", None)
    info.setdefault("llm_provider", None)
    return info


def failure_row(
    slo: Mapping[str, Any],
    *,
    started: object = None,
    ended: object = None,
    attempted_retries: object = None,
) -> dict:
    """A failed request from LiteLLM's ``standard_logging_object``, in the spend-log column layout.

    ``started``/``ended`` default to the logged attempt's times; the writer passes the request's
    start and the moment the proxy gave up (after its retries), as LiteLLM's own DB logger does.
    """
    meta: Mapping[str, Any] = slo.get("metadata") or {}
    hidden: Mapping[str, Any] = slo.get("hidden_params") or {}
    start = naive_utc(started) or naive_utc(slo.get("startTime"))
    end = naive_utc(ended) or naive_utc(slo.get("endTime")) or start
    litellm_call_id = slo.get("litellm_call_id") or slo.get("id")
    key_hash = safe_api_key(meta.get("user_api_key_hash"))
    retries = attempted_retries if attempted_retries is not None else meta.get("attempted_retries")
    metadata = {
        "user_api_key": key_hash or None,
        "user_api_key_alias": meta.get("user_api_key_alias"),
        "user_api_key_team_id": meta.get("user_api_key_team_id"),
        "user_api_key_team_alias": meta.get("user_api_key_team_alias"),
        "user_api_key_org_id": meta.get("user_api_key_org_id"),
        "user_api_key_user_id": meta.get("user_api_key_user_id"),
        "spend_logs_metadata": meta.get("spend_logs_metadata"),
        "requester_ip_address": meta.get("requester_ip_address") or slo.get("requester_ip_address"),
        "user_agent": meta.get("user_agent") or slo.get("user_agent"),
        "applied_guardrails": meta.get("applied_guardrails"),
        "usage_object": meta.get("usage_object"),
        "model_map_information": slo.get("model_map_information"),
        "status": "failure",
        "error_information": _error_information(slo.get("error_information"), slo.get("error_str")),
        "litellm_overhead_time_ms": hidden.get("litellm_overhead_time_ms"),
        "attempted_retries": retries,
        "litellm_call_id": litellm_call_id,
    }
    payload = {
        "request_id": litellm_call_id or str(uuid.uuid4()),
        "call_type": slo.get("call_type") or "",
        "api_key": key_hash,
        "spend": float(slo.get("response_cost") or 0.0),
        "total_tokens": int(slo.get("total_tokens") or 0),
        "prompt_tokens": int(slo.get("prompt_tokens") or 0),
        "completion_tokens": int(slo.get("completion_tokens") or 0),
        "startTime": start,
        "endTime": end,
        "completionStartTime": end,  # nothing was streamed back
        "model": slo.get("model") or "",
        "model_id": slo.get("model_id") or "",
        "model_group": slo.get("model_group") or "",
        "custom_llm_provider": slo.get("custom_llm_provider") or "",
        "api_base": slo.get("api_base") or "",
        "user": meta.get("user_api_key_user_id") or "",
        "team_id": meta.get("user_api_key_team_id") or "",
        "organization_id": meta.get("user_api_key_org_id") or "",
        "end_user": slo.get("end_user") or "",
        "metadata": metadata,
        "cache_hit": str(bool(slo.get("cache_hit"))),
        "cache_key": slo.get("cache_key") or "Cache OFF",
        "request_tags": list(slo.get("request_tags") or []),
        "requester_ip_address": metadata["requester_ip_address"],
        "session_id": slo.get("session_id") or slo.get("trace_id"),
        "status": "failure",
        "request_duration_ms": _duration_ms(start, end),
        "litellm_call_id": litellm_call_id,
    }
    return finish_row(payload)


def bare_failure_row(
    *,
    request_id: str,
    route: str | None,
    model: object,
    key_hash: object,
    key_alias: str | None,
    error: BaseException,
    started: object,
    ended: object,
) -> dict:
    """A failed request LiteLLM built no logging payload for (e.g. an unparsable body): same layout."""
    code = getattr(error, "code", None) or getattr(error, "status_code", None)
    slo = {
        "id": request_id,
        "litellm_call_id": request_id,
        "call_type": "",
        "model": model if isinstance(model, str) else "",
        "model_group": model if isinstance(model, str) else "",
        "metadata": {"user_api_key_hash": key_hash, "user_api_key_alias": key_alias,
                     "user_api_key_request_route": route},
        "error_information": {"error_class": type(error).__name__, "error_code": code, "llm_provider": "",
                              "error_message": str(getattr(error, "message", "") or error)},
    }  # fmt: skip
    return failure_row(slo, started=started, ended=ended)


def _duration_ms(started: datetime | None, ended: datetime | None) -> int | None:
    if started is None or ended is None:
        return None
    return int((ended - started).total_seconds() * 1000)
