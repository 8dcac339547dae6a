"""The spend-log columns that land, in one place: stage table, source query, payload and checks follow it.

The set is exactly what ``GET /spend/logs/v2`` returns (LiteLLM 1.106.2, ``_SPEND_LOG_LIST_COLUMNS``),
so both sources can land identical rows: the database source selects the same columns, with
``request_duration_ms`` filled in the same way the endpoint does. Left out on purpose: the content
columns ``messages``, ``response``, ``proxy_server_request`` (never land), ``created_at`` /
``updated_at`` (the database source reads them for the watermark only) and ``billing_agent_id``
(not served by the API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "json", "timestamp", "bigint", "integer", "float"]

# Size limits (bytes of text). Identifier-like fields are joined and indexed on (a btree entry
# cannot exceed ~2.7 kB); LiteLLM's own ids are under 100 bytes. A whole row as JSON is ~2.7 kB
# (metadata ~1.9 kB, measured on get_logging_payload output) and grows with tracebacks, so 256 kB
# leaves two orders of magnitude of headroom while keeping a runaway row out of the warehouse.
ID_LIMIT = 512
TEXT_LIMIT = 4096
PAYLOAD_LIMIT = 256 * 1024

# stage type per kind (the database source casts to exactly these: binary COPY needs equal types)
STAGE_TYPES: dict[Kind, str] = {
    "text": "text",
    "json": "text",
    "timestamp": "timestamp without time zone",  # UTC, as LiteLLM stores it
    "bigint": "bigint",
    "integer": "integer",
    "float": "double precision",
}


@dataclass(frozen=True)
class Column:
    name: str  # LiteLLM's column name: the payload key
    kind: Kind
    limit: int | None = None  # oversize above this many bytes (text kind)
    # the expression the database source reads (defaults to the quoted column)
    source_expr: str | None = None

    @property
    def ident(self) -> str:
        return '"' + self.name + '"'

    @property
    def stage_type(self) -> str:
        return STAGE_TYPES[self.kind]

    @property
    def staged(self) -> bool:
        """Typed stage column (checks and typed landing columns); JSON columns travel in the payload only."""
        return self.kind != "json"

    def value_expr(self) -> str:
        """The column's value as the database source reads it (before any cast)."""
        if self.source_expr is not None:
            return self.source_expr
        if self.kind == "json":  # a JSON null reads as SQL NULL, as it does through the API
            return f"nullif({self.ident}, 'null'::jsonb)"
        return self.ident

    def select_expr(self) -> str:
        """The stage column's value, cast to exactly the stage type."""
        cast = {"bigint": "::bigint", "integer": "::integer"}.get(self.kind, "")
        return f"{self.value_expr()}{cast}"


DURATION_EXPR = (
    'coalesce("request_duration_ms", '
    '(extract(epoch from ("endTime" - "startTime")) * 1000)::integer)::integer'
)

COLUMNS: tuple[Column, ...] = (
    Column("request_id", "text", ID_LIMIT),
    Column("call_type", "text", TEXT_LIMIT),
    Column("api_key", "text", TEXT_LIMIT),
    Column("spend", "float"),
    Column("total_tokens", "bigint"),
    Column("prompt_tokens", "bigint"),
    Column("completion_tokens", "bigint"),
    Column("startTime", "timestamp"),
    Column("endTime", "timestamp"),
    Column("completionStartTime", "timestamp"),
    Column("model", "text", TEXT_LIMIT),
    Column("model_id", "text", TEXT_LIMIT),
    Column("model_group", "text", TEXT_LIMIT),
    Column("custom_llm_provider", "text", TEXT_LIMIT),
    Column("api_base", "text", TEXT_LIMIT),
    Column("user", "text", TEXT_LIMIT),
    Column("metadata", "json"),
    Column("cache_hit", "text", TEXT_LIMIT),
    Column("cache_key", "text", TEXT_LIMIT),
    Column("request_tags", "json"),
    Column("team_id", "text", TEXT_LIMIT),
    Column("organization_id", "text", TEXT_LIMIT),
    Column("end_user", "text", TEXT_LIMIT),
    Column("requester_ip_address", "text", TEXT_LIMIT),
    Column("session_id", "text", TEXT_LIMIT),
    Column("status", "text", TEXT_LIMIT),
    Column("mcp_namespaced_tool_name", "text", TEXT_LIMIT),
    Column("agent_id", "text", TEXT_LIMIT),
    Column("litellm_call_id", "text", TEXT_LIMIT),
    Column("request_duration_ms", "integer", source_expr=DURATION_EXPR),
)

BY_NAME = {c.name: c for c in COLUMNS}
STAGED = tuple(c for c in COLUMNS if c.staged)
TIMESTAMP_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "timestamp")
TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens")
# columns a LiteLLM older than the pin may lack: the database source selects NULL for those
OPTIONAL_COLUMNS = frozenset(
    {
        "organization_id",
        "mcp_namespaced_tool_name",
        "agent_id",
        "litellm_call_id",
        "request_duration_ms",
        "status",
        "session_id",
        "requester_ip_address",
        "end_user",
        "team_id",
    }
)

# Stage-only columns (after the typed ones):
#   _payload        the whole row as JSON text, keyed by LiteLLM's column names (parsed once, at the merge)
#   _metadata_kind  jsonb_typeof(metadata): rows whose metadata is not an object are rejected
#   _changed_at     greatest(created_at, updated_at): database source only, for the watermark
#   _pre_reason     a rejection found before staging (API source: an unparsable value), full message
#   _window_start   the fetch window a row came from (its partition when its startTime is unusable)
EXTRA_STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_payload", "text"),
    ("_metadata_kind", "text"),
    ("_changed_at", "timestamp without time zone"),
    ("_pre_reason", "text"),
    ("_window_start", "timestamp without time zone"),
)
