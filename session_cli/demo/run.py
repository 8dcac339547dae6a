"""`benchmark demo`: init-db, simulated sessions and their LiteLLM traffic, the pipeline, the report.

The traffic is simulated (see :mod:`session_cli.demo.traffic`) but everything after it is the real
product: sessions are created and finalized through the registry, rows land in a
LiteLLM-compatible ``"LiteLLM_SpendLogs"`` table, and one in-process Dagster run takes them through
the landing asset, the dbt models and the statistics.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from session_cli import settings
from session_cli.configs.loader import ConfigSet
from session_cli.console import warn
from session_cli.db import connect
from session_cli.demo import scenario
from session_cli.demo.traffic import SimSession, simulate_session, write_rows
from session_cli.errors import BenchmarkError
from session_cli.keys import LocalKeys
from session_cli.registry import sessions as session_rows
from session_cli.registry.sync import sync_configs
from session_cli.sessions import create_session, finalize_session

SESSION_GAP_S = (45.0, 150.0)  # operator pause between two sessions
SIBLING_LITELLM_DB = "litellm_demo"  # next to a configured warehouse when LITELLM_DATABASE_URL is unset


class DemoError(BenchmarkError):
    """The demo could not finish; the message says which stage."""


@dataclass
class DemoResult:
    warehouse_url: str
    litellm_url: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    window: tuple[datetime, datetime] | None = None
    run_id: str | None = None
    seconds: float = 0.0


def _sibling_database(url: str, name: str) -> str:
    """A database on the same server as ``url`` (created if missing)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def resolve_databases(fresh: bool) -> tuple[str, str]:
    """Warehouse and LiteLLM database URLs: the embedded Postgres unless a database is configured."""
    configured = settings.configured_database_url()
    if configured is None:
        from session_cli import embedded

        if fresh:
            embedded.reset()
            _reset_dagster_home()
        server = embedded.ensure_running()
        return server.database_url("benchmark"), os.environ.get(
            "LITELLM_DATABASE_URL"
        ) or server.database_url("litellm")
    if fresh:
        warn(
            "--fresh resets only the embedded Postgres; BENCHMARK_DATABASE_URL/DATABASE_URL is set, so it is kept"
        )
    return configured, os.environ.get("LITELLM_DATABASE_URL") or _sibling_database(
        configured, SIBLING_LITELLM_DB
    )


def _reset_dagster_home() -> None:
    import shutil

    if not os.environ.get("DAGSTER_HOME"):  # only the default, project-managed one
        shutil.rmtree(settings.benchmark_home() / "dagster", ignore_errors=True)


def _timeline_start(now: datetime, planned: int) -> datetime:
    """Sessions happened over the last hours: start early enough that the last one ends before now."""
    return (now - timedelta(minutes=9 * planned + 15)).replace(second=0, microsecond=0)


def generate(
    cs: ConfigSet,
    result: DemoResult,
    *,
    seed: int,
    sessions_per_variant: int,
    now: datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> None:
    """Create, simulate, finalize: every planned session, through the real registry path."""
    rng = random.Random(seed)
    planned = scenario.plan(sessions_per_variant)
    clock = _timeline_start(now, len(planned)).replace(tzinfo=None)  # LiteLLM stores naive UTC
    keys = LocalKeys()  # database-less: the demo needs no proxy
    for index, item in enumerate(planned, start=1):
        row = create_session(
            cs, scenario.session_request(item.variant, "simulated by `benchmark demo`"), keys=keys
        )
        variant = cs.variants[item.variant].item
        sim = SimSession(
            session_id=row["session_id"],
            key_hash=row["key_hash"],
            key_alias=row["key_alias"],
            variant=item.variant,
            model=variant.model,
            background_model=variant.background_model,
            profile=scenario.PROFILES[item.variant],
            start=clock + timedelta(seconds=5),
        )
        rows, last_end = simulate_session(sim, rng)
        write_rows(result.litellm_url, rows)
        finalize_session(row["session_id"], item.status, item.outcome, keys=keys)
        started, ended = clock.replace(tzinfo=UTC), (last_end + timedelta(seconds=20)).replace(tzinfo=UTC)
        with connect(result.warehouse_url) as conn:
            session_rows.set_simulated_window(conn, row["session_id"], started, ended)
        result.sessions.append({**row, "status": item.status, "outcome": item.outcome, "requests": len(rows)})
        result.requests += len(rows)
        clock = ended.replace(tzinfo=None) + timedelta(seconds=rng.uniform(*SESSION_GAP_S))
        progress(index, len(planned))
    result.window = (_timeline_start(now, len(planned)).replace(tzinfo=UTC), now + timedelta(minutes=1))


def prepare(cs: ConfigSet, fresh: bool) -> DemoResult:
    """Databases up, registry migrated and synced, LiteLLM's table present; env set for the pipeline."""
    from session_cli.litellm_schema import apply_litellm_migrations
    from session_cli.registry.migrate import upgrade_to_head

    warehouse, litellm = resolve_databases(fresh)
    # the pipeline (resources, dbt) reads these; the demo mints its keys locally
    os.environ["BENCHMARK_DATABASE_URL"] = warehouse
    os.environ["LITELLM_DATABASE_URL"] = litellm
    upgrade_to_head(warehouse)
    with connect(warehouse) as conn:
        sync_configs(conn, cs)
    apply_litellm_migrations(litellm)
    return DemoResult(warehouse_url=warehouse, litellm_url=litellm)


STAGES = ("landing", "dbt", "statistics")


def stage_of(group: str | None) -> str:
    return {"raw": "landing", "statistics": "statistics"}.get(group or "", "dbt")


def materialize(result: DemoResult, on_stage: Callable[[str, int, int], None]) -> None:
    """One in-process run: land the window, build the dbt models, compute the comparison.

    ``on_stage(stage, done, total)`` reports each stage's materialized assets. There is no Prometheus
    in the demo: its raw asset is left out (its table exists, empty, so the models that read it build).
    """
    from benchmark_pipeline.definitions import build_definitions
    from benchmark_pipeline.run import DEFAULT_SELECTION, RunEvent, run_window, without_prometheus

    assert result.window is not None
    selection = without_prometheus(DEFAULT_SELECTION, result.warehouse_url)
    defs = build_definitions()  # resources from the environment prepare() set, not from import time
    graph = defs.resolve_asset_graph()
    stage_by_key = {
        key.to_user_string(): stage_of(graph.get(key).group_name) for key in selection.resolve(graph)
    }
    totals = {stage: sum(1 for s in stage_by_key.values() if s == stage) for stage in STAGES}
    done: dict[str, set[str]] = {stage: set() for stage in STAGES}
    for stage in STAGES:
        on_stage(stage, 0, totals[stage])

    def seen(event: RunEvent) -> None:  # a partitioned asset materializes once per partition: count keys
        stage = stage_by_key.get(event.message) if event.kind == "materialization" else None
        if stage is not None and event.message not in done[stage]:
            done[stage].add(event.message)
            on_stage(stage, len(done[stage]), totals[stage])

    run = run_window(
        *result.window,
        selection=selection,
        definitions=defs,
        on_event=seen,
        tags={"harness_bench/demo": "true"},
    )
    result.run_id, result.seconds = run.run_id, run.seconds
    if not run.success:
        raise DemoError(
            f"the pipeline run {run.run_id} failed: {'; '.join(run.failures) or 'see the Dagster UI'}",
            hint=f"dbt's output is in {run.output_log}; `make dev` shows the run's step logs",
        )
