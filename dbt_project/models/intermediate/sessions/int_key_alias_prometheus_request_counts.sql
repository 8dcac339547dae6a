-- One row per session key alias Prometheus has request-counter points for: the requests the proxy
-- counted for it. The catalog query (var prometheus_request_count_query) lands the raw cumulative
-- counter; consecutive points telescope, and a drop means the proxy restarted (counter from 0):
--   total = first value + sum(v - v_prev where v >= v_prev) + sum(v where v < v_prev)
with series as (
    select * from {{ ref('stg_prometheus__series') }}
    where query_name = '{{ var("prometheus_request_count_query") }}'
        and key_alias is not null
        and value is not null
),

stepped as (
    select
        key_alias,
        sampled_at,
        value,
        lag(value) over (partition by key_alias order by sampled_at) as previous_value
    from series
),

increments as (
    select
        key_alias,
        sampled_at,
        case
            when previous_value is null then value
            when value >= previous_value then value - previous_value
            else value
        end as increment
    from stepped
),

final as (
    select
        key_alias,
        round(sum(increment))::bigint as prometheus_request_count,
        count(*) as prometheus_points,
        min(sampled_at) as first_sampled_at,
        max(sampled_at) as last_sampled_at
    from increments
    group by key_alias
)

select * from final
