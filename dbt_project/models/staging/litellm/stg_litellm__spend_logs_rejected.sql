-- One row per rejected (malformed) spend-log source row, as the landing kept it.
with source as (
    select * from {{ source('litellm', 'spend_logs_rejected') }}
),

renamed as (
    select
        rejected_id,
        nullif(request_id, '') as request_id,
        partition_key as _partition_key,
        reason,
        _source,
        _ingested_at
    from source
)

select * from renamed
