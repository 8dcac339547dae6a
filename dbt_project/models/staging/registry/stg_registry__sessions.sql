-- One row per benchmark session (registry.sessions). The key itself is never stored; the hash and
-- alias are what spend logs carry.
with source as (
    select * from {{ source('registry', 'sessions') }}
),

renamed as (
    select
        -- ids
        session_id,
        experiment,
        variant,
        task_card,
        harness,
        provider,
        model_alias,
        background_model_alias,
        key_alias,
        key_hash,
        key_backend,

        -- lifecycle
        status,
        outcome,
        label,
        operator,
        (status in ('completed', 'failed') and outcome is distinct from 'invalid') as is_included,
        case
            when status = 'active' then 'active'
            when status = 'aborted' then 'aborted'
            when outcome = 'invalid' then 'invalid'
        end as exclusion_reason,

        -- timestamps
        started_at,
        ended_at,
        key_expires_at,
        key_revoked_at,
        created_at,
        updated_at,

        -- provenance
        git_repo_root,
        git_branch,
        git_commit,
        git_dirty,
        litellm_base_url,
        config_fingerprints ->> 'variant' as variant_fingerprint,
        config_fingerprints
    from source
)

select * from renamed
