-- One row per (experiment, variant): the distribution of session-level metrics over the included
-- sessions (finalized, not invalid), pooled request percentiles, and the error rate with a Wilson
-- 95% interval. Excluded sessions are counted, never silently dropped. See docs/metrics.md.
{%- set metrics = [
    'ttft_p50_ms', 'latency_p95_ms', 'output_tokens_per_s_p50', 'error_rate', 'cost_usd',
    'total_tokens', 'active_duration_s',
] %}
{%- set z = 1.959963984540054 %}

with sessions as (
    select * from {{ ref('fct_sessions') }}
),

experiments as (
    select * from {{ ref('stg_registry__experiments') }}
),

listed as (
    select * from {{ ref('stg_registry__experiment_variants') }}
),

pairs as (
    -- every variant an experiment lists, plus any variant a session ran under that it does not
    select experiment, variant, variant_position from listed
    union all
    select distinct sessions.experiment, sessions.variant, null::integer
    from sessions
    where not exists (
        select 1 from listed
        where listed.experiment = sessions.experiment and listed.variant = sessions.variant
    )
),

session_stats as (
    select
        experiment,
        variant,
        count(*) filter (where is_included) as n_sessions,
        count(*) filter (where not is_included) as n_excluded,
        {% for m in metrics %}
        count({{ m }}) filter (where is_included) as {{ m }}_n,
        percentile_cont(0.5) within group (order by {{ m }}) filter (where is_included) as {{ m }}_median,
        avg({{ m }}::numeric) filter (where is_included) as {{ m }}_mean,
        stddev_samp({{ m }}::numeric) filter (where is_included) as {{ m }}_stddev,
        min({{ m }}) filter (where is_included) as {{ m }}_min,
        max({{ m }}) filter (where is_included) as {{ m }}_max,
        {% endfor %}
        sum(request_count) filter (where is_included) as request_count,
        sum(failure_count) filter (where is_included) as failure_count
    from sessions
    group by experiment, variant
),

pooled as (
    select * from {{ ref('int_variant_request_percentiles') }}
),

joined as (
    select
        pairs.experiment,
        pairs.variant,
        coalesce(pairs.variant = experiments.baseline_variant, false) as is_baseline,
        pairs.variant_position,
        coalesce(session_stats.n_sessions, 0) as n_sessions,
        coalesce(session_stats.n_excluded, 0) as n_excluded,
        {% for m in metrics %}
        coalesce(session_stats.{{ m }}_n, 0) as {{ m }}_n,
        session_stats.{{ m }}_median::double precision as {{ m }}_median,
        session_stats.{{ m }}_mean::double precision as {{ m }}_mean,
        session_stats.{{ m }}_stddev::double precision as {{ m }}_stddev,
        (session_stats.{{ m }}_stddev / nullif(session_stats.{{ m }}_mean, 0))::double precision as {{ m }}_cv,
        session_stats.{{ m }}_min::double precision as {{ m }}_min,
        session_stats.{{ m }}_max::double precision as {{ m }}_max,
        {% endfor %}
        pooled.pooled_latency_p50_ms,
        pooled.pooled_latency_p95_ms,
        pooled.pooled_ttft_p50_ms,
        pooled.pooled_ttft_p95_ms,
        coalesce(session_stats.request_count, 0)::bigint as request_count,
        coalesce(session_stats.failure_count, 0)::bigint as failure_count,
        session_stats.cost_usd_mean::double precision as cost_usd_per_session,
        session_stats.total_tokens_mean::double precision as total_tokens_per_session
    from pairs
    left join experiments
        on experiments.experiment = pairs.experiment
    left join session_stats
        on session_stats.experiment = pairs.experiment
        and session_stats.variant = pairs.variant
    left join pooled
        on pooled.experiment = pairs.experiment
        and pooled.variant = pairs.variant
),

final as (
    select
        experiment,
        variant,
        is_baseline,
        variant_position,
        n_sessions,
        n_excluded,
        {% for m in metrics %}
        {%- for stat in ['n', 'median', 'mean', 'stddev', 'cv', 'min', 'max'] %}
        {{ m }}_{{ stat }},
        {%- endfor %}
        {% endfor %}
        pooled_latency_p50_ms,
        pooled_latency_p95_ms,
        pooled_ttft_p50_ms,
        pooled_ttft_p95_ms,
        request_count,
        failure_count,
        failure_count::double precision / nullif(request_count, 0) as error_rate,
        -- Wilson score interval, 95% (z = {{ z }})
        {%- for bound, sign in [('low', '-'), ('high', '+')] %}
        case when request_count > 0 then
            (
                failure_count::double precision / request_count + {{ z }} ^ 2 / (2 * request_count)
                {{ sign }} {{ z }} * sqrt(
                    (failure_count::double precision / request_count)
                    * (1 - failure_count::double precision / request_count) / request_count
                    + {{ z }} ^ 2 / (4 * request_count::double precision ^ 2)
                )
            ) / (1 + {{ z }} ^ 2 / request_count)
        end as error_rate_ci_{{ bound }},
        {%- endfor %}
        cost_usd_per_session,
        total_tokens_per_session
    from joined
)

select * from final
