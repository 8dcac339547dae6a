-- One row per (experiment, variant) that has sessions: request-level percentiles pooled over the
-- successful requests of its included sessions (finalized, not invalid).
-- Incremental: a pair is recomputed when fct_requests (re)wrote a request of one of its sessions
-- since the last run, or when its set of included sessions changed (signature over the registry).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['experiment', 'variant'],
        on_schema_change='fail',
    )
}}

with sessions as (
    select * from {{ ref('stg_registry__sessions') }}
),

signatures as (
    select
        experiment,
        variant,
        md5(coalesce(
            string_agg(session_id::text, ',' order by session_id) filter (where is_included),
            ''
        )) as included_sessions_signature
    from sessions
    group by experiment, variant
),

{% if is_incremental() %}
recent_pairs as (
    select distinct requests.experiment, requests.variant
    from {{ ref('fct_requests') }} as requests
    where requests._loaded_at > {{ watermark('_requests_loaded_at', this) }}
        and requests.session_id is not null
),

touched as (
    select signatures.*
    from signatures
    left join {{ this }} as existing
        on existing.experiment = signatures.experiment
        and existing.variant = signatures.variant
    left join recent_pairs
        on recent_pairs.experiment = signatures.experiment
        and recent_pairs.variant = signatures.variant
    where existing.included_sessions_signature is distinct from signatures.included_sessions_signature
        or recent_pairs.experiment is not null
),
{% else %}
touched as (
    select * from signatures
),
{% endif %}

requests as (
    select
        sessions.experiment,
        sessions.variant,
        requests.latency_ms,
        requests.ttft_ms
    from {{ ref('fct_requests') }} as requests
    inner join sessions
        on sessions.session_id = requests.session_id
    inner join touched
        on touched.experiment = sessions.experiment
        and touched.variant = sessions.variant
    where sessions.is_included
        and requests.status = 'success'
),

pooled as (
    select
        experiment,
        variant,
        count(*) as pooled_success_count,
        percentile_cont(array[0.5, 0.95]) within group (order by latency_ms) as latency_percentiles,
        percentile_cont(array[0.5, 0.95]) within group (order by ttft_ms) as ttft_percentiles
    from requests
    group by experiment, variant
),

final as (
    select
        touched.experiment,
        touched.variant,
        coalesce(pooled.pooled_success_count, 0) as pooled_success_count,
        {{ round3('pooled.latency_percentiles[1]') }} as pooled_latency_p50_ms,
        {{ round3('pooled.latency_percentiles[2]') }} as pooled_latency_p95_ms,
        {{ round3('pooled.ttft_percentiles[1]') }} as pooled_ttft_p50_ms,
        {{ round3('pooled.ttft_percentiles[2]') }} as pooled_ttft_p95_ms,
        touched.included_sessions_signature,
        (select max(_loaded_at) from {{ ref('fct_requests') }}) as _requests_loaded_at
    from touched
    left join pooled
        on pooled.experiment = touched.experiment
        and pooled.variant = touched.variant
)

select * from final
