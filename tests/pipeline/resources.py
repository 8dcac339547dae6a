"""The resources the spend-log asset, sensors and schedules run with in tests."""

from __future__ import annotations

import dagster as dg

from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource


def litellm_resources(warehouse_url: str, litellm_url: str) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url),
        "litellm_source": LiteLLMSourceResource(database_url=litellm_url),
    }
