-- Flags (as a warning) streamed requests whose completionStartTime equals endTime: the known
-- LiteLLM defect on /v1/messages and /v1/responses streams. Their TTFT is NULL in the marts; many
-- of them in one variant bias its TTFT towards the requests that were stamped.
{{ config(severity='warn') }}

select request_id, session_id, variant, call_type, started_at, ended_at, completion_started_at
from {{ ref('fct_requests') }}
where has_suspect_ttft
