-- One row per task card config (the starting prompt stays in the registry).
with task_cards as (
    select * from {{ ref('stg_registry__task_cards') }}
),

final as (
    select
        task_card,
        goal,
        stop_condition,
        timebox_minutes,
        repo_path
    from task_cards
)

select * from final
