-- One row per LiteLLM spend-log request (attributed to a session or not). See docs/metrics.md.
-- Incremental on request_id: a run re-processes its batch of raw rows (see requests_batch_filter)
-- plus the rows already in the mart of every session the batch touches, so request_sequence stays
-- 1..n by (started_at, request_id) when rows arrive late or out of order.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='request_id',
        on_schema_change='fail',
        tags=['partitioned'],
        post_hook="{{ analyze_if_never_analyzed(this) }}",
        indexes=[
            {'columns': ['request_id'], 'unique': True},
            {'columns': ['session_id']},
            {'columns': ['_ingested_at']},
            {'columns': ['_loaded_at']},
        ],
    )
}}

{%- set columns = [
    'request_id', 'litellm_call_id', 'session_id', 'attribution', 'experiment', 'variant',
    'task_card', 'harness', 'provider', 'model_alias', 'upstream_model', 'key_alias', 'call_type',
    'is_background_model', 'started_at', 'ended_at', 'completion_started_at', 'latency_ms',
    'is_streamed', 'ttft_ms', 'generation_ms', 'output_tokens_per_s', 'input_tokens',
    'output_tokens', 'total_tokens', 'cached_input_tokens', 'cache_write_tokens', 'proxy_cache_hit',
    'cost_usd', 'litellm_cost_usd', 'cost_mismatch', 'status', 'error_class', 'error_code',
    'litellm_overhead_ms', 'retries', 'is_within_session_window', 'has_suspect_ttft', '_ingested_at',
] %}

with batch as (
    select {{ columns | join(', ') }}
    from {{ ref('int_requests_costed') }}
    {% if is_incremental() %}
    where {{ requests_batch_filter() }}
    {% endif %}
),

{% if is_incremental() %}
touched_sessions as (
    select distinct session_id from batch where session_id is not null
),

session_rows as materialized (
    -- rows already in the mart for the touched sessions (session_id index; "= any(array(...))"
    -- keeps the planner from scanning the whole mart for an anti-join)
    select {% for c in columns %}existing.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ this }} as existing
    where existing.session_id = any(array(select touched_sessions.session_id from touched_sessions))
),

carried as (
    -- those not in the batch: re-sequenced with it
    select session_rows.*
    from session_rows
    where not exists (select 1 from batch where batch.request_id = session_rows.request_id)
),
{% endif %}

combined as (
    select * from batch
    {% if is_incremental() %}
    union all
    select * from carried
    {% endif %}
),

final as (
    select
        {% for c in columns %}
        {%- if c == 'is_background_model' %}
        case
            when session_id is not null
                then row_number() over (partition by session_id order by started_at, request_id)
        end::integer as request_sequence,
        {%- endif %}
        {{ c }},
        {%- endfor %}
        now() as _loaded_at
    from combined
)

select * from final
