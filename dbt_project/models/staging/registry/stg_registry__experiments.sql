-- One row per experiment config.
with source as (
    select * from {{ source('registry', 'experiments') }}
),

renamed as (
    select
        name as experiment,
        description,
        baseline_variant,
        fingerprint,
        source_path,
        synced_at
    from source
)

select * from renamed
