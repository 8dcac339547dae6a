-- One row per registry session: lifecycle from the registry, request rollups from fct_requests
-- (via int_session_request_rollups), and the Prometheus cross-check. See docs/metrics.md.
{{ config(indexes=[{'columns': ['session_id'], 'unique': True}, {'columns': ['experiment', 'variant']}]) }}

with sessions as (
    select * from {{ ref('stg_registry__sessions') }}
),

rollups as (
    select * from {{ ref('int_session_request_rollups') }}
),

prometheus as (
    select * from {{ ref('int_key_alias_prometheus_request_counts') }}
),

final as (
    select
        -- ids
        sessions.session_id,
        sessions.experiment,
        sessions.variant,
        sessions.task_card,
        sessions.harness,
        sessions.provider,
        sessions.model_alias,
        sessions.background_model_alias,

        -- lifecycle
        sessions.status,
        sessions.outcome,
        sessions.label,
        sessions.operator,
        sessions.started_at,
        sessions.ended_at,
        sessions.key_alias,
        sessions.git_repo_root,
        sessions.git_branch,
        sessions.git_commit,
        sessions.git_dirty,
        sessions.variant_fingerprint,
        sessions.config_fingerprints,
        sessions.is_included,
        sessions.exclusion_reason,

        -- request counts
        coalesce(rollups.request_count, 0) as request_count,
        coalesce(rollups.success_count, 0) as success_count,
        coalesce(rollups.failure_count, 0) as failure_count,
        rollups.failure_count::double precision / nullif(rollups.request_count, 0) as error_rate,

        -- latency and TTFT over successful requests (percentile_cont)
        rollups.latency_p50_ms,
        rollups.latency_p90_ms,
        rollups.latency_p95_ms,
        rollups.latency_p99_ms,
        rollups.ttft_p50_ms,
        rollups.ttft_p90_ms,
        rollups.ttft_p95_ms,
        rollups.ttft_p99_ms,
        rollups.output_tokens_per_s_p50,

        -- tokens and cost (a session without requests used none)
        case when rollups.session_id is null then 0 else rollups.input_tokens end as input_tokens,
        case when rollups.session_id is null then 0 else rollups.output_tokens end as output_tokens,
        case when rollups.session_id is null then 0 else rollups.total_tokens end as total_tokens,
        case when rollups.session_id is null then 0 else rollups.cached_input_tokens end as cached_input_tokens,
        case when rollups.session_id is null then 0 else rollups.cache_write_tokens end as cache_write_tokens,
        rollups.cache_read_ratio,
        case when rollups.session_id is null then 0 else rollups.cost_usd end as cost_usd,
        case when rollups.session_id is null then 0 else rollups.litellm_cost_usd end as litellm_cost_usd,

        -- durations
        rollups.active_duration_s,
        {{ seconds_between('sessions.started_at', 'sessions.ended_at') }} as wall_duration_s,
        coalesce(rollups.requests_outside_window, 0) as requests_outside_window,

        -- Prometheus cross-check
        prometheus.prometheus_request_count,
        case
            when prometheus.prometheus_request_count is not null
                then coalesce(rollups.request_count, 0) - prometheus.prometheus_request_count
        end as prometheus_request_drift
    from sessions
    left join rollups
        on rollups.session_id = sessions.session_id
    left join prometheus
        on prometheus.key_alias = sessions.key_alias
)

select * from final
