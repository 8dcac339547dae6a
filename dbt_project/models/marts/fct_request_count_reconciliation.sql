-- One row per session: spend-log request count against the requests Prometheus counted for the
-- session's key alias (catalog query var prometheus_request_count_query). Drift beyond the
-- tolerance (vars reconciliation_tolerance_abs / _rel) fails the `within_tolerance` test.
with sessions as (
    select * from {{ ref('fct_sessions') }}
),

final as (
    select
        session_id,
        key_alias,
        experiment,
        variant,
        status,
        request_count as spend_log_request_count,
        prometheus_request_count,
        prometheus_request_drift as drift,
        greatest(
            {{ var('reconciliation_tolerance_abs') }}::double precision,
            {{ var('reconciliation_tolerance_rel') }} * request_count
        ) as tolerance,
        case
            when prometheus_request_count is null then null
            else abs(prometheus_request_drift) <= greatest(
                {{ var('reconciliation_tolerance_abs') }}::double precision,
                {{ var('reconciliation_tolerance_rel') }} * request_count
            )
        end as within_tolerance
    from sessions
)

select * from final
