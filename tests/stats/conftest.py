"""Fixtures for the statistics, report and export tests (data: stats_marts.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.stats.stats_marts import build_request_mart, build_session_marts


@pytest.fixture(scope="session")
def marts_db(make_database: Callable[[str], str]) -> str:
    """Session marts + request mart, and the comparison materialized once by the real asset."""
    import dagster as dg

    from benchmark_pipeline.defs.stats import fct_variant_comparison
    from benchmark_pipeline.resources import WarehouseResource

    url = make_database("stats")
    build_session_marts(url)
    build_request_mart(url)
    result = dg.materialize(
        [fct_variant_comparison], resources={"warehouse": WarehouseResource(database_url=url)}
    )
    assert result.success
    return url
