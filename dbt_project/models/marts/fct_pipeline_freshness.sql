-- One row per UTC hour in which spend-log rows were landed or rejected: how many, and how long
-- after a request ended it arrived in raw (`_ingested_at - ended_at`, seconds).
-- Incremental: the newest hours are recomputed (var hourly_lookback_hours); a row re-landed later
-- counts in the hour of its latest landing.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='hour_start',
        on_schema_change='fail',
    )
}}

with landed as (
    select
        {{ utc_hour('_ingested_at') }} as hour_start,
        count(*) as landed_requests,
        percentile_cont(array[0.5, 0.95]) within group (
            order by {{ seconds_between('ended_at', '_ingested_at') }}
        ) as lag_percentiles,
        max({{ seconds_between('ended_at', '_ingested_at') }}) as arrival_lag_max_s,
        max(_ingested_at) as last_landed_at
    from {{ ref('stg_litellm__spend_logs') }}
    {% if is_incremental() %}
    where {{ hourly_batch_filter('_ingested_at', use_window=false) }}
    {% endif %}
    group by 1
),

rejected as (
    select
        {{ utc_hour('_ingested_at') }} as hour_start,
        count(*) as rejected_rows
    from {{ ref('stg_litellm__spend_logs_rejected') }}
    {% if is_incremental() %}
    where {{ hourly_batch_filter('_ingested_at', use_window=false) }}
    {% endif %}
    group by 1
),

final as (
    select
        coalesce(landed.hour_start, rejected.hour_start) as hour_start,
        coalesce(landed.landed_requests, 0) as landed_requests,
        coalesce(rejected.rejected_rows, 0) as rejected_rows,
        {{ round3('landed.lag_percentiles[1]') }} as arrival_lag_p50_s,
        {{ round3('landed.lag_percentiles[2]') }} as arrival_lag_p95_s,
        landed.arrival_lag_max_s,
        landed.last_landed_at
    from landed
    full outer join rejected
        on rejected.hour_start = landed.hour_start
)

select * from final
