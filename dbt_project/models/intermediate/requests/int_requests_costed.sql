-- One row per spend-log request, attributed, with cost_usd recomputed from seeds/model_prices.csv
-- (the price row of the request's model alias in effect at its start). Prompt tokens include cache
-- reads and cache writes in LiteLLM's usage (both the OpenAI and the Anthropic shape), so:
--   cost = (input - cached - cache_write) * input price + cached * cache-read price
--        + cache_write * cache-write price + output * output price      (prices per 1M tokens)
-- A request without usage details is priced as uncached; an alias without a price gives NULL.
with requests as (
    select * from {{ ref('int_requests_attributed') }}
),

prices as (
    select * from {{ ref('model_prices') }}
),

costed as (
    select
        requests.*,
        case
            when prices.model_alias is not null
                and requests.input_tokens is not null
                and requests.output_tokens is not null
                then (
                    greatest(
                        requests.input_tokens
                        - coalesce(requests.cached_input_tokens, 0)
                        - coalesce(requests.cache_write_tokens, 0),
                        0
                    ) * prices.input_usd_per_mtok
                    + coalesce(requests.cached_input_tokens, 0) * prices.cache_read_usd_per_mtok
                    + coalesce(requests.cache_write_tokens, 0) * prices.cache_write_usd_per_mtok
                    + requests.output_tokens * prices.output_usd_per_mtok
                ) / 1000000.0
        end::double precision as cost_usd
    from requests
    left join prices
        on prices.model_alias = requests.model_alias
        and requests.started_at >= prices.effective_from::timestamp at time zone 'UTC'
        and (
            prices.effective_to is null
            or requests.started_at < prices.effective_to::timestamp at time zone 'UTC'
        )
),

final as (
    select
        costed.*,
        coalesce(
            cost_usd is not null
            and litellm_cost_usd is not null
            and abs(cost_usd - litellm_cost_usd) > greatest(
                {{ var('cost_mismatch_abs_usd') }},
                {{ var('cost_mismatch_rel') }} * greatest(abs(cost_usd), abs(litellm_cost_usd))
            ),
            false
        ) as cost_mismatch
    from costed
)

select * from final
