"""prometheus domain: LiteLLM's Prometheus metrics landed per hourly partition (see README.md)."""

import dagster as dg

from benchmark_pipeline.defs.prometheus.assets import (
    prometheus_hourly_schedule,
    prometheus_ingest_job,
    raw_prometheus_series,
)

defs = dg.Definitions(
    assets=[raw_prometheus_series],
    jobs=[prometheus_ingest_job],
    schedules=[prometheus_hourly_schedule],
)
