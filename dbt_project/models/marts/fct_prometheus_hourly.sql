-- One row per (UTC hour, catalog query, series): hourly summaries of the Prometheus catalog series
-- (per model group and per session key alias) for cross-checks and trend panels. The canonical
-- numbers come from spend logs; histogram quantiles here are bucket interpolations.
-- Incremental and partitioned like the raw asset: a run replaces the hours of its window.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='hour_start',
        on_schema_change='fail',
        tags=['partitioned'],
        indexes=[{'columns': ['hour_start', 'query_name']}],
    )
}}

with series as (
    select * from {{ ref('stg_prometheus__series') }}
    {% if is_incremental() %}
    where {{ hourly_batch_filter('sampled_at') }}
    {% endif %}
),

hourly as (
    select
        {{ utc_hour('sampled_at') }} as hour_start,
        query_name,
        series_key,
        labels,
        key_alias,
        model_alias,
        min(step_seconds) as step_seconds,
        count(*) as sample_count,
        count(value) as value_count,
        avg(value::numeric)::double precision as value_avg,
        min(value) as value_min,
        max(value) as value_max,
        (array_agg(value order by sampled_at desc) filter (where value is not null))[1] as value_last
    from series
    group by 1, query_name, series_key, labels, key_alias, model_alias
)

select * from hourly
