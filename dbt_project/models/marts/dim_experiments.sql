-- One row per experiment config, with the number of variants it compares.
with experiments as (
    select * from {{ ref('stg_registry__experiments') }}
),

listed as (
    select experiment, count(*) as variant_count
    from {{ ref('stg_registry__experiment_variants') }}
    group by experiment
),

final as (
    select
        experiments.experiment,
        experiments.description,
        experiments.baseline_variant,
        coalesce(listed.variant_count, 0) as variant_count
    from experiments
    left join listed
        on listed.experiment = experiments.experiment
)

select * from final
