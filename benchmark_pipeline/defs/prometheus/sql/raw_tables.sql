-- Landing table for Prometheus range queries. Owned by benchmark_pipeline; read by dbt sources.
create schema if not exists raw;

-- one row per (catalog query, series labels, sample timestamp)
create table if not exists raw.prometheus_series (
    query_name text not null,
    labels jsonb not null,
    ts timestamptz not null,
    value double precision,                      -- NULL where Prometheus answered NaN
    step_seconds integer not null,
    _partition_key text not null,
    _ingested_at timestamptz not null default clock_timestamp(),
    primary key (query_name, labels, ts)
);
create index if not exists prometheus_series_ts_idx on raw.prometheus_series (ts);
