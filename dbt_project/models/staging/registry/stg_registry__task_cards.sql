-- One row per task card config. The starting prompt is content and stays in the registry.
with source as (
    select * from {{ source('registry', 'task_cards') }}
),

renamed as (
    select
        name as task_card,
        goal,
        stop_condition,
        timebox_minutes,
        repo_path,
        fingerprint,
        synced_at
    from source
)

select * from renamed
