-- Landing tables for LiteLLM spend logs. Owned by benchmark_pipeline; read by dbt sources.
-- Contract with dbt_project/models/staging/litellm: the typed columns below plus `payload`.
create schema if not exists raw;

-- one row per LiteLLM request (spend-log row), upserted on request_id
create table if not exists raw.litellm_spend_logs (
    request_id text primary key,
    start_time timestamptz not null,             -- "startTime" (UTC)
    end_time timestamptz not null,               -- "endTime"
    completion_start_time timestamptz,           -- "completionStartTime"
    api_key text,                                -- sha256 of the virtual key
    key_alias text,                              -- metadata.user_api_key_alias
    model_group text,
    model text,
    custom_llm_provider text,
    call_type text,
    status text,
    spend double precision,
    prompt_tokens bigint,
    completion_tokens bigint,
    total_tokens bigint,
    session_id text,                             -- LiteLLM's own session id (never used for attribution)
    litellm_call_id text,
    payload jsonb not null,                      -- the whole source row minus content columns, secrets redacted
    _partition_key text not null,                -- hourly partition that landed it ('YYYY-MM-DD-HH:00')
    _source text not null,                       -- 'litellm_db' or 'litellm_api'
    _ingested_at timestamptz not null default clock_timestamp()
);
create index if not exists litellm_spend_logs_start_time_idx on raw.litellm_spend_logs (start_time);
-- dbt's incremental watermark: without it every incremental run scans the raw table
create index if not exists litellm_spend_logs_ingested_at_idx on raw.litellm_spend_logs (_ingested_at);

-- malformed source rows, kept with the reason (never silently dropped)
create table if not exists raw.litellm_spend_logs_rejected (
    rejected_id bigserial primary key,
    request_id text,
    partition_key text not null,
    reason text not null,
    payload jsonb not null,
    _source text not null,
    _ingested_at timestamptz not null default clock_timestamp()
);
create index if not exists litellm_spend_logs_rejected_partition_idx
    on raw.litellm_spend_logs_rejected (partition_key);

-- how far the live path has landed LiteLLM's table, in the source's own clock: the largest
-- greatest(created_at, updated_at) such that every source row at or below it is landed (or
-- rejected). Written in the same transaction as the rows it covers, so it never runs ahead of them.
create table if not exists raw.ingestion_watermarks (
    source_name text primary key,                -- 'litellm_spend_logs'
    watermark timestamp without time zone not null,
    run_id text,                                 -- the Dagster run that moved it last
    updated_at timestamptz not null default clock_timestamp()
);

-- Redaction, applied at landing to rows whose text looks like it holds a secret (a two-level screen
-- in benchmark_pipeline/defs/litellm/screen.py + statements.py flags them; only flagged rows pay
-- for these functions).
-- One string: a sha256 hex digest is kept as it is; a field named api_key or user_api_key (LiteLLM's
-- key fields) becomes sha256(key), exactly what LiteLLM stores, so attribution still works; other
-- secret-named fields become '[REDACTED]'; anywhere else, sk-... keys and bearer tokens inside the
-- text are masked.
create or replace function raw.spend_log_redact_string(value text, field text default null)
returns text language sql immutable parallel safe as $fn$
    select case
        when value is null or value = '' or value ~* '^[0-9a-f]{64}$' then value
        when field in ('user_api_key', 'api_key') then
            encode(sha256(convert_to(regexp_replace(value, '^\s*[Bb][Ee][Aa][Rr][Ee][Rr]\s+', ''), 'UTF8')), 'hex')
        when field ~* '(api[_-]?key|authorization|password|passwd|secret|access[_-]?token|refresh[_-]?token|private[_-]?key)$'
            then '[REDACTED]'
        else regexp_replace(
            regexp_replace(value, '\msk-[A-Za-z0-9_-]{8,}', 'sk-[REDACTED]', 'g'),
            '([Bb][Ee][Aa][Rr][Ee][Rr])\s+[A-Za-z0-9._~+/=-]+', '\1 [REDACTED]', 'g')
    end
$fn$;

-- A JSON value, recursively: object keys name the field for the string rule above.
create or replace function raw.spend_log_redact(value jsonb, field text default null)
returns jsonb language plpgsql immutable parallel safe as $fn$
declare
    kind text := jsonb_typeof(value);
begin
    if kind = 'object' then
        return (select coalesce(jsonb_object_agg(e.key, raw.spend_log_redact(e.value, e.key)), '{}'::jsonb)
                from jsonb_each(value) as e);
    elsif kind = 'array' then
        return (select coalesce(jsonb_agg(raw.spend_log_redact(a.value, null) order by a.ord), '[]'::jsonb)
                from jsonb_array_elements(value) with ordinality as a(value, ord));
    elsif kind = 'string' then
        return to_jsonb(raw.spend_log_redact_string(value #>> '{}', field));
    end if;
    return value;
end
$fn$;
