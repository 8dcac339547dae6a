-- One row per variant config (the latest synced version).
with variants as (
    select * from {{ ref('stg_registry__variants') }}
),

final as (
    select
        variant,
        provider,
        model_alias,
        background_model_alias,
        harness,
        tags,
        fingerprint
    from variants
)

select * from final
