"""Fixtures for the dbt project: one warehouse built once from the fixture telemetry, shared by the
tests that only read marts (each dbt invocation costs about 4.5 s of start-up)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.dbt.loader import load_fixture, run_dbt


@pytest.fixture(scope="session")
def dbt_target_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dbt target dir for the test session (partial parsing is reused between invocations)."""
    return tmp_path_factory.mktemp("dbt_target")


@pytest.fixture(scope="session")
def fixture_warehouse(make_database: Callable[[str], str], dbt_target_path: Path) -> str:
    """A database holding the registry, the raw landing tables with the fixture rows, and every dbt
    model built and tested by one ``dbt build`` (seeds, models, data tests, unit tests)."""
    from session_cli.registry.migrate import upgrade_to_head

    url = make_database("dbt_marts")
    upgrade_to_head(url)
    load_fixture(url)
    run_dbt(url, "build", target_path=dbt_target_path)
    return url


@pytest.fixture(scope="session")
def query(fixture_warehouse: str) -> Callable[..., list[dict]]:
    def run(sql: str, params: tuple | dict | None = None) -> list[dict]:
        with psycopg.connect(fixture_warehouse, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    return run
