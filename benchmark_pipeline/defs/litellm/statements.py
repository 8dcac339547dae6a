"""SQL for the spend-log landing, generated once from :mod:`columns` so every statement agrees on it.

The static DDL (landing tables, watermark table, redaction functions) is ``sql/raw_tables.sql``.
This module renders what depends on the column list:

- the database source's query: the typed columns the checks need, plus the whole row as JSON
  text (``_payload``, built by LiteLLM's server while the warehouse merges the previous page;
  the API source builds the same text in Python, :func:`source_api.stage_row`);
- the classification (:func:`reason_expr`): NULL, or why a row is rejected; written once, in SQL,
  and evaluated by LiteLLM's server in the database source's query (beside the serialisation, so
  the warehouse only copies and merges) or by the warehouse for the API source's small pages;
- the stage table: a temporary table in the warehouse into which either source COPYs a page;
- the direct page (:class:`SourceSelects`): on a first landing, LiteLLM's server renders a page's
  clean rows in the landing table's own layout (:data:`LANDING_VALUES`, the merge's values) and
  the relay COPYs them straight into ``raw.litellm_spend_logs``; the page's other rows take the stage;
- the merge: rejected rows into ``raw.litellm_spend_logs_rejected`` with a readable reason, the
  rest upserted into ``raw.litellm_spend_logs`` on ``request_id``, touching a row only when its
  payload changed (so a replay leaves ``_ingested_at``, dbt's incremental watermark, alone).
  Rows the secret screen flags go through ``raw.spend_log_redact`` first (see :mod:`screen`).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark_pipeline.defs.litellm.columns import (
    COLUMNS,
    EXTRA_STAGE_COLUMNS,
    PAYLOAD_LIMIT,
    STAGED,
    TOKEN_COLUMNS,
)

STAGE = "spend_logs_stage"
SOURCE_TABLE = '"LiteLLM_SpendLogs"'
ISO_MS = '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\''
PARTITION_FMT = "'YYYY-MM-DD-HH24:\"00\"'"

# The per-row secret screen: a case-insensitive regex over the row's JSON text. It matches sk- keys,
# bearer tokens, string values of secret-named fields, and api_key-named fields whose value is not
# a sha256 hex digest (LiteLLM's own metadata.user_api_key always is one, so normal rows do not
# match). It is a superset of what raw.spend_log_redact rewrites. Too slow to run on every row
# (~50 us per 2.7 kB row), it only runs on pages the relay's byte screen flagged (screen.py).
SECRET_SCAN_REGEX = (
    "sk-|bearer|(password|passwd|secret|authorization|access[_-]?token|refresh[_-]?token|private[_-]?key)"
    '": "|api[_-]?key": "(?![0-9a-f]{64}")'
)


def _q(name: str) -> str:
    return '"' + name + '"'


# --- database source -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSelects:
    """The database source's select lists. A page in the stage's layout is
    ``select <outer> from (select <inner> from (select <read> from "LiteLLM_SpendLogs" where ...
    offset 0) as l offset 0) as s``; a direct page, in the landing table's layout, is
    ``select <direct> from (select <outer>, s._metadata from (...) as s) as s where <DIRECT_ROWS>``.

    Each ``offset 0`` keeps the planner from inlining a subquery's expressions into every place
    the next level uses them, so each is evaluated once per row: without them the whole row's
    JSON was built twice (once for the size check) and ``metadata`` (stored compressed when it is
    over ~2 kB) was decompressed at each of its seven uses. ``<read>`` decompresses it once (see
    :data:`DETOASTED_METADATA`). Measured on one core, 300k rows: a direct page's query 19.1 s ->
    9.2 s, then 7.9 s with :data:`KEY_NOT_HASHED` free of its regex.
    """

    read: str
    inner: str
    outer: str
    direct: str


# ``#>`` with an empty path returns its (decompressed) argument unchanged: the levels above then
# reuse the in-memory value instead of decompressing the stored one again at each use
DETOASTED_METADATA = '"metadata" #> \'{}\' as "metadata"'


def source_selects(present: set[str]) -> SourceSelects:
    """The inner list reads the typed stage columns, the whole row as JSON text (``_payload``), the
    metadata and its JSON type; the outer one adds ``_reason``: the classification runs on LiteLLM's
    server, beside the serialisation, so the warehouse only copies and merges (the API source gets
    the same expression in the warehouse: :data:`CLASSIFY_STAGE_SQL`). Columns an older LiteLLM
    lacks read NULL; ``request_duration_ms`` falls back to endTime - startTime exactly as
    ``/spend/logs/v2`` computes it.
    """

    def value(col_name: str) -> str:
        col = next(c for c in COLUMNS if c.name == col_name)
        if col.name == "request_duration_ms" and col.name not in present:
            return '(extract(epoch from ("endTime" - "startTime")) * 1000)::integer'
        if col.name in present:
            return col.select_expr()
        return f"null::{col.stage_type}"

    inner = [f"{value(c.name)} as {c.ident}" for c in STAGED]
    pairs = []
    for col in COLUMNS:
        v = value(col.name)
        if col.kind == "timestamp":
            v = f"to_char({v}, {ISO_MS})"
        pairs.append(f"'{col.name}', {v}")
    inner.append("json_build_object(" + ", ".join(pairs) + ")::text as _payload")
    inner.append("jsonb_typeof(nullif(metadata, 'null'::jsonb)) as _metadata_kind")
    inner.append("greatest(created_at, updated_at) as _changed_at")
    inner.append("null::text as _pre_reason")
    inner.append(f"{value('metadata')} as _metadata")
    outer = [c.ident for c in STAGED] + [
        "_payload",
        "_metadata_kind",
        "_changed_at",
        f"{reason_expr()} as _reason",
    ]
    direct = [on_source for _, _, on_source in LANDING_VALUES]
    read = [
        DETOASTED_METADATA if name == "metadata" else _q(name)
        for name in (*(c.name for c in COLUMNS), "created_at", "updated_at")
        if name in present
    ]
    return SourceSelects(", ".join(read), ", ".join(inner), ", ".join(outer), ", ".join(direct))


DB_STAGE_COLUMNS: tuple[str, ...] = (
    *(c.name for c in STAGED),
    "_payload",
    "_metadata_kind",
    "_changed_at",
    "_reason",
)
API_STAGE_COLUMNS: tuple[str, ...] = (
    *(c.name for c in STAGED),
    "_payload",
    "_metadata_kind",
    "_pre_reason",
    "_window_start",
)


# --- stage -----------------------------------------------------------------------------------------


def reason_expr() -> str:
    """Why a row is rejected: a code (``kind`` or ``kind:field``), the first failing rule winning;
    NULL for a good row. Over stage column names; the one definition of the rules."""
    whens = ["when request_id is null or btrim(request_id) = '' then 'missing_request_id'"]
    for col in STAGED:
        if col.limit is not None:
            whens.append(f"when octet_length({col.ident}) > {col.limit} then 'oversize_field:{col.name}'")
    whens += [
        # on the text as received: the two sources' JSON differs by a few bytes of spacing, so rows
        # within ~100 bytes of the limit could be judged differently (far from any real row's size)
        f"when octet_length(_payload) > {PAYLOAD_LIMIT} then 'oversize_row'",
        """when "startTime" is null then 'missing_timestamp:startTime'""",
        """when "endTime" is null then 'missing_timestamp:endTime'""",
        """when "endTime" < "startTime" then 'inverted_timestamps:endTime'""",
        """when "completionStartTime" < "startTime" then 'inverted_timestamps:completionStartTime'""",
    ]
    whens += [f"when {c} < 0 then 'negative_tokens:{c}'" for c in TOKEN_COLUMNS]
    whens.append("when _metadata_kind <> 'object' then 'metadata_not_object'")
    body = "\n            ".join(whens)
    return f"coalesce(_pre_reason, case\n            {body}\n        end)"


def stage_ddl() -> str:
    cols = [f"    {c.ident} {c.stage_type}" for c in STAGED]
    cols += [f"    {name} {typ}" for name, typ in EXTRA_STAGE_COLUMNS]
    cols.append("    _reason text")
    body = ",\n".join(cols)
    return (
        f"create temporary table if not exists {STAGE} (\n{body}\n)\n"
        # a ~3 kB row would otherwise be compressed on its way into the stage and decompressed on its
        # way out (measured: half the cost of staging a page); the landing table keeps compression
        "with (toast_tuple_target = 8160);\n"
        # rejected rows are rare: a partial index finds them without scanning the page
        f"create index if not exists {STAGE}_rejected on {STAGE} (request_id) where _reason is not null;"
    )


# the API source's pages are classified in the warehouse, with the same expression (they are small)
CLASSIFY_STAGE_SQL = f"update {STAGE} set _reason = {reason_expr()}"


def stage_copy_sql(columns: tuple[str, ...]) -> str:
    cols = ", ".join(_q(c) for c in columns)
    return f"copy {STAGE} ({cols}) from stdin (format binary)"


# --- merge -----------------------------------------------------------------------------------------

# A row whose api_key is not a key hash always goes through the redaction functions (a raw key in
# ``api_key`` need not look like a secret to anything else): it never lands through a direct page.
# (a sha256 hex digest, any case: written without a regex, which cost ~4 us per row on LiteLLM's server)
KEY_NOT_HASHED = (
    "coalesce(s.api_key <> '' and not (octet_length(s.api_key) = 64 "
    "and ltrim(s.api_key, '0123456789abcdefABCDEF') = ''), false)"
)
# a page's rows that can land directly, and the rest (exact complements: neither is ever NULL)
DIRECT_ROWS = f"s._reason is null and not {KEY_NOT_HASHED}"
STAGED_ROWS = f"(s._reason is not null or {KEY_NOT_HASHED})"

# metadata.proxy_server_request holds the request body when LiteLLM stores prompts: content never
# lands, so it is nulled like the content columns are dropped
_NO_CONTENT = "coalesce({} -> 'proxy_server_request', 'null'::jsonb) = 'null'::jsonb"
_NULL_CONTENT = "jsonb_set({}, '{{metadata,proxy_server_request}}', 'null'::jsonb)"


def _strip_content(row: str) -> str:
    """``row`` (a payload as jsonb) with metadata.proxy_server_request nulled when it is set."""
    metadata = row + " -> 'metadata'"
    return f"case when {_NO_CONTENT.format(metadata)} then {row} else {_NULL_CONTENT.format(row)} end"


_STRIP_CONTENT = _strip_content("s.j")
# A direct page sends the payload in jsonb's binary format: a version byte (1), then the JSON text
# (what psycopg's own binary jsonb dumper sends). The text is LiteLLM's serialisation as it is
# (parsed here only for the rare row that stored a request body), so the warehouse parses each row
# once, as the merge does.
_DIRECT_PAYLOAD = (
    f"'\\x01'::bytea || convert_to(case when {_NO_CONTENT.format('s._metadata')} then s._payload "
    f"else {_NULL_CONTENT.format('s._payload::jsonb')}::text end, 'UTF8')"
)
_UTC = "at time zone 'UTC'"
_PARTITION = f"""to_char(date_trunc('hour', s."startTime"), {PARTITION_FMT})"""

# (landing column, its value in the warehouse's merge, over the parsed and screened ``s.payload``,
# its value on LiteLLM's server for a direct page: the same, for a row that needs no redaction)
LANDING_VALUES: tuple[tuple[str, str, str], ...] = (
    ("request_id", "s.request_id", "s.request_id"),
    ("start_time", f's."startTime" {_UTC}', f's."startTime" {_UTC}'),
    ("end_time", f's."endTime" {_UTC}', f's."endTime" {_UTC}'),
    ("completion_start_time", f's."completionStartTime" {_UTC}', f's."completionStartTime" {_UTC}'),
    ("api_key", "s.payload ->> 'api_key'", "s.api_key"),
    ("key_alias", "s.payload -> 'metadata' ->> 'user_api_key_alias'", "s._metadata ->> 'user_api_key_alias'"),
    *(
        (name, f"s.{name}", f"s.{name}")
        for name in (
            "model_group",
            "model",
            "custom_llm_provider",
            "call_type",
            "status",
            "spend",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "session_id",
            "litellm_call_id",
        )
    ),
    ("payload", "s.payload", _DIRECT_PAYLOAD),
    ("_partition_key", _PARTITION, _PARTITION),
    ("_source", "%(source)s", "'litellm_db'"),
)
LANDING_COPY_SQL = (
    "copy raw.litellm_spend_logs ("
    + ", ".join(name for name, _, _ in LANDING_VALUES)
    + ") from stdin (format binary)"
)


def row_screen_expr() -> str:
    """True for a row that goes through the redaction functions. ``%(screen)s`` is false on pages
    the relay found clean: the regex is then never evaluated."""
    return f"({KEY_NOT_HASHED} or (%(screen)s and s._payload ~* '{SECRET_SCAN_REGEX}'))"


def upsert_sql(*, new_rows_only: bool = False) -> str:
    """Valid rows of the page. Parameters: source, screen. Returns one row: (inserted, updated).

    ``new_rows_only``: a plain insert, for a page none of whose request_ids is landed yet (checked
    with :data:`ANY_LANDED_SQL` under the landing lock, so no other landing can add one meanwhile);
    it skips ON CONFLICT's speculative insertion, the price of which a first landing need not pay.

    The payload is parsed once per row: nested subqueries behind ``offset 0`` keep the planner from
    copying the ``::jsonb`` cast into every expression that uses it (measured: a lateral join was
    flattened into a Memoize node that parsed it six times).
    """
    typed = [(name, in_merge) for name, in_merge, _ in LANDING_VALUES]
    targets = ", ".join(name for name, _ in typed)
    inner_cols = ", ".join(f"s.{c.ident}" for c in STAGED)
    values = ",\n        ".join(expr for _, expr in typed)
    updates = ",\n        ".join(f"{name} = excluded.{name}" for name, _ in typed[1:])
    conflict = (
        ""
        if new_rows_only
        else f"""on conflict (request_id) do update set
        {updates},
        _ingested_at = excluded._ingested_at
    where t.payload is distinct from excluded.payload"""
    )
    return f"""with landed as (
    insert into raw.litellm_spend_logs as t ({targets})
    select
        {values}
    from (
        select {inner_cols},
            case when s.flagged then raw.spend_log_redact({_STRIP_CONTENT}) else {_STRIP_CONTENT} end as payload
        from (
            select {inner_cols}, s._payload::jsonb as j, {row_screen_expr()} as flagged
            from {STAGE} s
            where s._reason is null
            offset 0
        ) s
        offset 0
    ) s
    {conflict}
    returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) filter (where not inserted) from landed"""


def _oversize_payload() -> str:
    """A rejected row too big to keep: its typed fields, and the sizes instead of the content."""
    pairs = []
    for col in STAGED:
        v = f"s.{col.ident}"
        if col.kind == "timestamp":
            v = f"to_char({v}, {ISO_MS})"
        elif col.kind == "text":
            v = (
                f"case when octet_length({v}) > {col.limit} then '<oversize: ' || octet_length({v}) || ' bytes>' "
                f"else raw.spend_log_redact_string({v}, '{col.name}') end"
            )
        pairs.append(f"'{col.name}', {v}")
    # sizes of the normalised JSON (jsonb's text), identical whichever source sent it
    pairs.append("'_oversize_row_bytes', octet_length(s._payload::jsonb::text)")
    return "jsonb_build_object(" + ", ".join(pairs) + ")"


def _reason_message() -> str:
    """The stored reason: the code, then the field and the offending value, in one line."""
    sizes = " ".join(f"when '{c.name}' then octet_length(s.{c.ident})" for c in STAGED if c.limit is not None)
    limits = " ".join(f"when '{c.name}' then {c.limit}" for c in STAGED if c.limit is not None)
    tokens = " ".join(f"when '{c}' then s.{c}" for c in TOKEN_COLUMNS)
    field = "split_part(s._reason, ':', 2)"
    largest = (
        "(select e.key || ', ' || octet_length(e.value::text) || ' bytes' from jsonb_each(s._payload::jsonb) e "
        "order by octet_length(e.value::text) desc limit 1)"
    )
    return f"""case split_part(s._reason, ':', 1)
            when 'missing_request_id' then 'missing_request_id: request_id is '
                || case when s.request_id is null then 'null' else 'empty' end
            when 'oversize_field' then 'oversize_field: ' || {field} || ' is '
                || (case {field} {sizes} end) || ' bytes (limit ' || (case {field} {limits} end) || ')'
            when 'oversize_row' then 'oversize_row: the row is ' || octet_length(s._payload::jsonb::text)
                || ' bytes as JSON (limit {PAYLOAD_LIMIT}); largest field ' || {largest}
            when 'missing_timestamp' then 'missing_timestamp: ' || {field} || ' is null'
            when 'inverted_timestamps' then 'inverted_timestamps: ' || {field} || ' '
                || to_char(case {field} when 'endTime' then s."endTime" else s."completionStartTime" end, {ISO_MS})
                || ' is before startTime ' || to_char(s."startTime", {ISO_MS})
            when 'negative_tokens' then 'negative_tokens: ' || {field} || ' = ' || (case {field} {tokens} end)
            when 'metadata_not_object' then 'metadata_not_object: metadata is a JSON '
                || s._metadata_kind || ', expected an object'
            else s._reason
        end"""


def insert_rejected_sql() -> str:
    """Rejected rows of the page (always redacted). Parameters: source, fallback_partition."""
    request_id = (
        f"case when octet_length(s.request_id) > {STAGED[0].limit} "
        "then left(s.request_id, 64) || '...' else s.request_id end"
    )
    partition = (
        f"coalesce(to_char(date_trunc('hour', s.\"startTime\"), {PARTITION_FMT}), "
        f"to_char(date_trunc('hour', s._window_start), {PARTITION_FMT}), %(fallback_partition)s)"
    )
    payload = (
        "case when s._reason = 'oversize_row' or s._reason like 'oversize_field:%%' "
        f"then {_oversize_payload()} else raw.spend_log_redact({_strip_content('s._payload::jsonb')}) end"
    )
    return f"""insert into raw.litellm_spend_logs_rejected (request_id, partition_key, reason, payload, _source)
    select {request_id}, {partition}, {_reason_message()}, {payload}, %(source)s
    from {STAGE} s
    where s._reason is not null
    returning split_part(reason, ':', 1)"""


# a row that landed earlier and is malformed now (LiteLLM updated it) leaves the landing table, so
# every source row is in exactly one of the two tables
DELETE_SUPERSEDED_SQL = f"""delete from raw.litellm_spend_logs t
    using {STAGE} s
    where s._reason is not null and t.request_id = s.request_id"""

# any of the page's valid rows landed already? (one primary-key probe per row, stops at the first)
ANY_LANDED_SQL = f"""select exists (
    select 1 from {STAGE} s
    cross join lateral (
        select 1 from raw.litellm_spend_logs t where t.request_id = s.request_id limit 1
    ) as landed
    where s._reason is null)"""

REJECTED_COUNT_SQL = f"select count(*) from {STAGE} where _reason is not null"
SCREENED_COUNT_SQL = f"select count(*) from {STAGE} s where s._reason is null and {row_screen_expr()}"
