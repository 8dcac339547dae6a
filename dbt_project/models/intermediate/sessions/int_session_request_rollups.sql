-- One row per session with at least one attributed request: request-level rollups.
-- Incremental: only sessions whose requests fct_requests (re)wrote since the last run are
-- recomputed (fct_requests rewrites every row of a session it touches, stamping _loaded_at).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_id',
        on_schema_change='fail',
        indexes=[{'columns': ['session_id'], 'unique': True}],
    )
}}

with
{% if is_incremental() %}
touched as (
    select distinct requests.session_id
    from {{ ref('fct_requests') }} as requests
    where requests._loaded_at > {{ watermark('_requests_loaded_at', this) }}
        and requests.session_id is not null
),

requests as (
    select *
    from {{ ref('fct_requests') }}
    where session_id in (select touched.session_id from touched)
),
{% else %}
requests as (
    select * from {{ ref('fct_requests') }} where session_id is not null
),
{% endif %}

rolled as (
    select
        session_id,
        count(*) as request_count,
        count(*) filter (where status = 'success') as success_count,
        count(*) filter (where status = 'failure') as failure_count,
        percentile_cont(array[0.5, 0.9, 0.95, 0.99]) within group (order by latency_ms)
            filter (where status = 'success') as latency_percentiles,
        percentile_cont(array[0.5, 0.9, 0.95, 0.99]) within group (order by ttft_ms)
            filter (where status = 'success') as ttft_percentiles,
        percentile_cont(0.5) within group (order by output_tokens_per_s) as output_tokens_per_s_p50,
        sum(input_tokens)::bigint as input_tokens,
        sum(output_tokens)::bigint as output_tokens,
        sum(total_tokens)::bigint as total_tokens,
        sum(cached_input_tokens)::bigint as cached_input_tokens,
        sum(cache_write_tokens)::bigint as cache_write_tokens,
        sum(input_tokens) filter (where cached_input_tokens is not null) as input_tokens_with_cache_info,
        -- sums of doubles through numeric: exact and independent of row order (rebuilds are identical)
        sum(cost_usd::numeric)::double precision as cost_usd,
        count(*) filter (where cost_usd is null) as requests_without_cost,
        sum(litellm_cost_usd::numeric)::double precision as litellm_cost_usd,
        min(started_at) as first_request_started_at,
        max(ended_at) as last_request_ended_at,
        count(*) filter (where not is_within_session_window) as requests_outside_window,
        max(_loaded_at) as _requests_loaded_at
    from requests
    group by session_id
),

final as (
    select
        session_id,
        request_count,
        success_count,
        failure_count,
        {{ round3('latency_percentiles[1]') }} as latency_p50_ms,
        {{ round3('latency_percentiles[2]') }} as latency_p90_ms,
        {{ round3('latency_percentiles[3]') }} as latency_p95_ms,
        {{ round3('latency_percentiles[4]') }} as latency_p99_ms,
        {{ round3('ttft_percentiles[1]') }} as ttft_p50_ms,
        {{ round3('ttft_percentiles[2]') }} as ttft_p90_ms,
        {{ round3('ttft_percentiles[3]') }} as ttft_p95_ms,
        {{ round3('ttft_percentiles[4]') }} as ttft_p99_ms,
        output_tokens_per_s_p50,
        input_tokens,
        output_tokens,
        total_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cached_input_tokens::double precision / nullif(input_tokens_with_cache_info, 0) as cache_read_ratio,
        -- one request with an unknown price makes the session's cost unknown
        case when requests_without_cost = 0 then cost_usd end as cost_usd,
        litellm_cost_usd,
        first_request_started_at,
        last_request_ended_at,
        {{ seconds_between('first_request_started_at', 'last_request_ended_at') }} as active_duration_s,
        requests_outside_window,
        _requests_loaded_at
    from rolled
)

select * from final
