-- A streamed request whose completionStartTime equals its endTime (LiteLLM did not stamp the first
-- chunk) has no usable TTFT: metrics.md treats it as not streamed. Any such row with a TTFT,
-- generation time or stream flag is a modelling error.
select request_id, is_streamed, ttft_ms, generation_ms
from {{ ref('fct_requests') }}
where has_suspect_ttft
    and (is_streamed or ttft_ms is not null or generation_ms is not null or output_tokens_per_s is not null)
