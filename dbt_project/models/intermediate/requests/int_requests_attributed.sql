-- One row per spend-log request with its session: by stored key hash (= the row's api_key), else
-- by key alias (= metadata.user_api_key_alias), else unattributed (kept, session columns NULL).
with requests as (
    select * from {{ ref('stg_litellm__spend_logs') }}
),

sessions as (
    select * from {{ ref('stg_registry__sessions') }}
),

attributed as (
    select
        requests.*,
        coalesce(by_hash.session_id, by_alias.session_id) as session_id,
        case
            when by_hash.session_id is not null then 'key_hash'
            when by_alias.session_id is not null then 'key_alias'
            else 'unattributed'
        end as attribution,
        coalesce(by_hash.experiment, by_alias.experiment) as experiment,
        coalesce(by_hash.variant, by_alias.variant) as variant,
        coalesce(by_hash.task_card, by_alias.task_card) as task_card,
        coalesce(by_hash.harness, by_alias.harness) as harness,
        coalesce(by_hash.model_alias, by_alias.model_alias) as session_model_alias,
        coalesce(by_hash.background_model_alias, by_alias.background_model_alias)
            as session_background_model_alias,
        coalesce(by_hash.started_at, by_alias.started_at) as session_started_at,
        coalesce(by_hash.ended_at, by_alias.ended_at) as session_ended_at
    from requests
    left join sessions as by_hash
        on by_hash.key_hash = requests.api_key_hash
    left join sessions as by_alias
        on by_hash.session_id is null
        and by_alias.key_alias = requests.key_alias
),

final as (
    select
        attributed.*,
        case
            when session_id is null then null
            else coalesce(
                model_alias = session_background_model_alias
                and session_background_model_alias is distinct from session_model_alias,
                false
            )
        end as is_background_model,
        case
            when session_id is null then null
            else started_at >= session_started_at
                and (
                    session_ended_at is null
                    or ended_at <= session_ended_at
                        + interval '{{ var("session_window_grace_minutes") }} minutes'
                )
        end as is_within_session_window
    from attributed
)

select * from final
