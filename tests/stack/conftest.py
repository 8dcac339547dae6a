"""Fixtures for the local-stack tests: the stack's own Postgres roles (configs/postgres/roles.sql) on the
test server, and marts built from the dbt fixture telemetry *as the benchmark role*, so dashboard
queries run as the read-only ``grafana`` role exactly as in docker-compose."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from stack_db import StackDatabases, apply_roles_sql, require_psql


@pytest.fixture(scope="session")
def stack_databases(pg_server_url: str) -> Iterator[StackDatabases]:
    """roles.sql applied twice (it must be re-runnable) to two fresh databases; all dropped after."""
    psql = require_psql()
    tag = uuid.uuid4().hex[:8]
    kinds = ("benchmark", "litellm", "litellm_reader", "grafana", "litellm_dbless")
    dbs = StackDatabases(
        server_url=pg_server_url,
        benchmark_db=f"hb_test_stack_benchmark_{tag}",
        litellm_db=f"hb_test_stack_litellm_{tag}",
        roles={k: f"hb_test_{tag}_{k}" for k in kinds},
        # a quote and a space in one password: roles.sql must quote what it is given
        passwords={k: f"pw-{k}-{tag}" for k in kinds} | {"grafana": f"it's a {tag}"},
    )
    try:
        for _ in range(2):
            proc = apply_roles_sql(psql, pg_server_url, dbs)
            assert proc.returncode == 0, f"roles.sql failed:\n{proc.stderr}"
        yield dbs
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            for db in (dbs.benchmark_db, dbs.litellm_db):
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
            for role in dbs.roles.values():
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def stack_marts(stack_databases: StackDatabases, tmp_path_factory: pytest.TempPathFactory) -> StackDatabases:
    """The dbt fixture telemetry (tests/dbt/fixture_data.py) built into marts by ``dbt build``, plus the
    statistics asset's comparison, all as the benchmark role (what the compose stack does)."""
    import dagster as dg

    from benchmark_pipeline.defs.stats import fct_variant_comparison
    from benchmark_pipeline.resources import WarehouseResource
    from session_cli.registry.migrate import upgrade_to_head
    from tests.dbt.loader import load_fixture, run_dbt

    url = stack_databases.url("benchmark")
    upgrade_to_head(url)
    load_fixture(url)
    run_dbt(url, "build", target_path=tmp_path_factory.mktemp("stack_dbt_target"))
    result = dg.materialize(
        [fct_variant_comparison], resources={"warehouse": WarehouseResource(database_url=url)}
    )
    assert result.success
    return stack_databases


@pytest.fixture(scope="session")
def grafana_query(stack_marts: StackDatabases) -> Callable[[str], tuple[list[str], list[tuple]]]:
    """Run SQL as the stack's read-only grafana role; returns (column names, rows)."""
    url = stack_marts.url("grafana")

    def run(query: str) -> tuple[list[str], list[tuple]]:
        with psycopg.connect(url) as conn:
            cur = conn.execute(query)
            columns = [c.name for c in cur.description or []]
            return columns, cur.fetchall()

    return run
