-- One row per variant config (the latest synced version).
with source as (
    select * from {{ source('registry', 'variants') }}
),

renamed as (
    select
        name as variant,
        provider,
        model_alias,
        background_model_alias,
        harness,
        tags,
        fingerprint,
        source_path,
        synced_at
    from source
)

select * from renamed
