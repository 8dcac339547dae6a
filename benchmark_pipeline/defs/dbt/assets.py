"""The dbt models as Dagster assets, split by partitioning.

- ``dbt_partitioned_models``: the time-grained incremental facts (dbt tag ``partitioned``:
  ``fct_requests``, ``fct_prometheus_hourly``) on the raw assets' hourly partitions. One dbt
  invocation per run or backfill (dagster-dbt's default ``BackfillPolicy.single_run`` for time partitions) with the run's window as
  ``--vars {window_start, window_end}``; dbt reprocesses exactly the raw rows those partitions landed.
- ``dbt_models``: everything else (views, seeds, watermark-incremental rollups, small tables).

``flags.indirect_selection: buildable`` (dbt_project.yml) makes a test whose parents span both sets
(relationships fct_requests -> fct_sessions) run with the downstream set, once every parent exists.
dbt tests are asset checks; unit tests are run by CI (``dbt build``), not on every materialization.
Column schemas (with the dbt column descriptions) and row counts are attached to each
materialization (metadata.py).
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from benchmark_pipeline.defs.dbt.env import dbt_environment
from benchmark_pipeline.defs.dbt.metadata import with_table_metadata
from benchmark_pipeline.defs.dbt.project import dbt_project
from benchmark_pipeline.defs.dbt.translator import (
    PARTITIONED_TAG,
    HarnessBenchDbtTranslator,
    ManifestFacts,
)
from benchmark_pipeline.partitions import hourly_partitions
from benchmark_pipeline.resources import WarehouseResource

TRANSLATOR = HarnessBenchDbtTranslator(ManifestFacts.read(dbt_project.manifest_path))
PARTITIONED_SELECT = f"tag:{PARTITIONED_TAG}"
UNPARTITIONED_SELECT = "resource_type:model resource_type:seed"
# unit tests need no data and are covered by CI; data tests stay (they are the asset checks)
BUILD_FLAGS = ("--exclude-resource-type", "unit_test")


def window_vars(start: datetime, end: datetime) -> dict[str, str]:
    """The dbt ``--vars`` for a partition window (ISO timestamps, UTC)."""
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def _stream(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    extra_args: list[str],
) -> Iterator[Any]:
    url = warehouse.url()
    with dbt_environment(url):
        invocation = dbt.cli(["build", *BUILD_FLAGS, *extra_args], context=context)
        yield from with_table_metadata(invocation.stream(), invocation.manifest, url)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED_SELECT,
    dagster_dbt_translator=TRANSLATOR,
    partitions_def=hourly_partitions,
    name="dbt_partitioned_models",
)
def dbt_partitioned_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    window = context.partition_time_window
    context.log.info(f"dbt window {window.start.isoformat()} .. {window.end.isoformat()}")
    yield from _stream(context, dbt, warehouse, ["--vars", json.dumps(window_vars(window.start, window.end))])


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=UNPARTITIONED_SELECT,
    exclude=PARTITIONED_SELECT,
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_models",
)
def dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    yield from _stream(context, dbt, warehouse, [])
