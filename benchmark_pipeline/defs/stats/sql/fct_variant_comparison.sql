-- marts.fct_variant_comparison: one row per experiment x non-baseline variant x metric.
-- Written only by the Dagster asset `fct_variant_comparison` (benchmark_pipeline/defs/stats),
-- replaced as a whole in one transaction on every materialization. Definitions: comparison.py.
create table if not exists marts.fct_variant_comparison (
    experiment text not null,
    variant text not null,
    baseline_variant text not null,
    metric text not null,                         -- a marts.fct_sessions column
    better_when text not null check (better_when in ('lower', 'higher')),
    n_variant integer not null,                   -- included sessions with a known value
    n_baseline integer not null,
    n_excluded_variant integer not null,          -- sessions not is_included (active, aborted, invalid)
    n_excluded_baseline integer not null,
    median_variant double precision,
    median_baseline double precision,
    diff_median double precision,                 -- variant - baseline
    ratio_median double precision,                -- variant / baseline; NULL when the baseline median is 0
    ci_low double precision,                      -- bootstrap 95% interval of diff_median
    ci_high double precision,
    p_value double precision,                     -- two-sided Mann-Whitney U
    p_value_holm double precision,                -- Holm across the metrics of this experiment x variant
    cliffs_delta double precision,                -- P(variant > baseline) - P(variant < baseline)
    verdict text not null
        check (verdict in ('better', 'worse', 'no detectable difference', 'insufficient data')),
    sessions_needed_per_side integer,             -- to detect 10% of the baseline median, alpha 0.05, power 0.8
    bootstrap_resamples integer not null,
    seed bigint not null,
    computed_at timestamptz not null,
    primary key (experiment, variant, metric)
);
