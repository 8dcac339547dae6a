-- One row per (catalog query, series labels, sample timestamp) from LiteLLM's exporter via Prometheus.
-- LiteLLM writes unknown label values as the string "None": those become NULL.
with source as (
    select * from {{ source('prometheus', 'series') }}
),

renamed as (
    select
        -- ids
        query_name,
        labels,
        md5(labels::text) as series_key,
        nullif(nullif(labels ->> 'api_key_alias', 'None'), '') as key_alias,
        nullif(nullif(labels ->> 'model_group', 'None'), '') as model_alias,
        nullif(nullif(labels ->> 'model', 'None'), '') as upstream_model,

        -- timestamps
        ts as sampled_at,

        -- numerics
        value,
        step_seconds,

        -- landing
        _partition_key,
        _ingested_at
    from source
)

select * from renamed
