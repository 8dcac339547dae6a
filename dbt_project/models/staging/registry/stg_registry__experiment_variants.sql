-- One row per (experiment, variant) listed by an experiment config.
with source as (
    select * from {{ source('registry', 'experiment_variants') }}
),

renamed as (
    select
        experiment,
        variant,
        position as variant_position,
        is_baseline
    from source
)

select * from renamed
