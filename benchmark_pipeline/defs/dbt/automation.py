"""Marts follow ingestion: a running automation sensor evaluates the dbt assets' conditions
(translator.py), and an hourly schedule rebuilds the unpartitioned models as a backstop (registry
changes - a session ending, a config synced - emit no Dagster event).

Never one run per request: the sensor batches every partition that became due in a tick into one
request, and the partitioned dbt asset runs a multi-partition request as one dbt invocation.
"""

from __future__ import annotations

import dagster as dg

from benchmark_pipeline.defs.dbt.assets import dbt_models

AUTOMATION_SENSOR_NAME = "dbt_automation_sensor"

dbt_automation_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR_NAME,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Evaluates the automation conditions of every asset (dbt models follow raw ingestion).",
)

dbt_backstop_job = dg.define_asset_job(
    "dbt_backstop_job",
    selection=dg.AssetSelection.assets(dbt_models),
    description="Rebuild the unpartitioned dbt models (rollups, dimensions, summaries).",
)

dbt_backstop_schedule = dg.ScheduleDefinition(
    name="dbt_backstop_schedule",
    job=dbt_backstop_job,
    cron_schedule="20 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly backstop: registry changes (sessions ending, configs synced) reach the marts.",
)
