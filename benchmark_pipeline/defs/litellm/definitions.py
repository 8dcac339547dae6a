"""Everything the litellm domain contributes to the code location."""

import dagster as dg

from benchmark_pipeline.defs.litellm.assets import live_path_fresh, raw_litellm_spend_logs
from benchmark_pipeline.defs.litellm.schedules import (
    freshness_job,
    litellm_freshness_schedule,
    litellm_late_data_schedule,
    spend_logs_job,
)
from benchmark_pipeline.defs.litellm.sensors import finalized_sessions_sensor, litellm_live_sensor

defs = dg.Definitions(
    assets=[raw_litellm_spend_logs],
    asset_checks=[live_path_fresh],
    jobs=[spend_logs_job, freshness_job],
    sensors=[litellm_live_sensor, finalized_sessions_sensor],
    schedules=[litellm_late_data_schedule, litellm_freshness_schedule],
)
