"""The stack's databases for real: configs/postgres/roles.sql applied to the test server (twice: it must be
re-runnable), and configs/dagster/dagster.yaml loaded by Dagster against a real Postgres database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from stack_db import StackDatabases, apply_roles_sql, require_psql

REPO = Path(__file__).resolve().parents[2]


def test_roles_own_their_databases(stack_databases: StackDatabases) -> None:
    with psycopg.connect(stack_databases.server_url) as conn:
        owners = dict(
            conn.execute(
                "select d.datname, r.rolname from pg_database d join pg_roles r on r.oid = d.datdba"
                " where d.datname = any(%s)",
                ([stack_databases.benchmark_db, stack_databases.litellm_db],),
            ).fetchall()
        )
        flags = conn.execute(
            "select rolname, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = any(%s)",
            (list(stack_databases.roles.values()),),
        ).fetchall()
    assert owners == {
        stack_databases.benchmark_db: stack_databases.roles["benchmark"],
        stack_databases.litellm_db: stack_databases.roles["litellm"],
    }
    assert all(not (su or createdb or createrole) for _, su, createdb, createrole in flags)


def test_each_role_reaches_only_its_database(stack_databases: StackDatabases) -> None:
    allowed = {
        ("benchmark", "benchmark"): True,
        ("grafana", "benchmark"): True,
        ("litellm", "litellm"): True,
        ("litellm_reader", "litellm"): True,
        ("grafana", "litellm"): False,
        ("benchmark", "litellm"): False,
        ("litellm_reader", "benchmark"): False,
        # the database-less proxy: session keys from the registry, spend-log rows into LiteLLM's table
        ("litellm_dbless", "benchmark"): True,
        ("litellm_dbless", "litellm"): True,
    }
    for (kind, db), ok in allowed.items():
        dbname = stack_databases.benchmark_db if db == "benchmark" else stack_databases.litellm_db
        url = stack_databases.url(kind, dbname)
        if ok:
            with psycopg.connect(url) as conn:
                conn.execute("select 1")
        else:
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(url).close()


def test_passwords_are_set(stack_databases: StackDatabases) -> None:
    """The test server may trust local connections, so check the stored verifier instead of a login."""
    with psycopg.connect(stack_databases.server_url) as conn:
        rows = conn.execute(
            "select rolname, rolpassword is not null from pg_authid where rolname = any(%s)",
            (list(stack_databases.roles.values()),),
        ).fetchall()
    assert len(rows) == 5 and all(has for _, has in rows)


def test_litellm_reader_reads_tables_litellm_creates_later(stack_databases: StackDatabases) -> None:
    """LiteLLM's Prisma migrations create its tables at its first start, after roles.sql ran."""
    with psycopg.connect(stack_databases.url("litellm")) as conn:
        conn.execute('create table "LiteLLM_SpendLogs" (request_id text primary key, spend double precision)')
        conn.execute("""insert into "LiteLLM_SpendLogs" values ('r1', 0.5)""")
    with psycopg.connect(stack_databases.url("litellm_reader")) as conn:
        assert conn.execute('select request_id, spend from "LiteLLM_SpendLogs"').fetchall() == [("r1", 0.5)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("""delete from "LiteLLM_SpendLogs\"""")


def test_litellm_dbless_reads_session_keys_and_appends_spend_logs_only(
    stack_databases: StackDatabases,
) -> None:
    """The database-less proxy's role, through the plugin's own code: the registry (migrated later by
    `benchmark config init-db` as the benchmark role) is readable, nothing in it writable; spend-log
    rows can be appended to the table LiteLLM's Prisma creates later, not read, changed or dropped."""
    import asyncio

    from session_cli.litellm_plugin.keystore import KeyStore
    from session_cli.litellm_plugin.spend_logs import SpendLogStore
    from session_cli.registry.migrate import upgrade_to_head
    from tests.e2e.support import insert_session

    dbs = stack_databases
    upgrade_to_head(dbs.url("benchmark"))
    session = insert_session(dbs.url("benchmark"), "http://litellm-dbless:4000")
    registry_url = dbs.url("litellm_dbless", dbs.benchmark_db)
    store = KeyStore(lambda: registry_url, ttl_s=0)
    try:
        found = asyncio.run(store.lookup(session.key_hash))
    finally:
        store.close()
    assert found is not None and found.session_id == session.session_id
    with psycopg.connect(dbs.url("benchmark")) as conn:
        conn.execute("create schema if not exists raw")
        conn.execute("create table raw.hb_dbless_probe as select 1 as x")
    try:
        update = f"update registry.sessions set notes = 'x' where session_id = '{session.session_id}'"
        with psycopg.connect(registry_url) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(update)  # read-only by default in the benchmark database
        # that default is one the role may turn off itself: its privileges are what forbid these
        for statement in (
            update,
            "select * from raw.hb_dbless_probe",
            "create table registry.hb_nope (x int)",
        ):
            with (
                psycopg.connect(registry_url, options="-c default_transaction_read_only=off") as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                conn.execute(statement)
    finally:
        with psycopg.connect(dbs.url("benchmark")) as conn:
            conn.execute("drop table raw.hb_dbless_probe")

    with psycopg.connect(dbs.url("litellm")) as conn:  # what Prisma creates at LiteLLM's first start
        conn.execute(
            'create table if not exists "LiteLLM_SpendLogs" (request_id text primary key, spend double precision)'
        )
    writer = SpendLogStore(dbs.url("litellm_dbless"))
    try:
        assert writer.insert([{"request_id": "dbless-1", "spend": 0.25}]) == 1
        assert writer.insert([{"request_id": "dbless-1", "spend": 0.25}]) == 0  # on conflict do nothing
    finally:
        writer.close()
    try:
        with psycopg.connect(dbs.url("litellm_reader")) as conn:
            spend = conn.execute("""select spend from "LiteLLM_SpendLogs" where request_id = 'dbless-1'""")
            assert spend.fetchall() == [(0.25,)]
        for statement in (
            'select * from "LiteLLM_SpendLogs"',
            """delete from "LiteLLM_SpendLogs" where request_id = 'dbless-1'""",
            'drop table "LiteLLM_SpendLogs"',
            "create table hb_nope (x int)",
        ):
            with (
                psycopg.connect(dbs.url("litellm_dbless")) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                conn.execute(statement)
    finally:
        with psycopg.connect(dbs.url("litellm")) as conn:
            conn.execute("""delete from "LiteLLM_SpendLogs" where request_id = 'dbless-1'""")


def test_an_empty_dbless_password_leaves_that_role_unable_to_log_in(stack_databases: StackDatabases) -> None:
    """LITELLM_DBLESS_DB_PASSWORD is optional in .env: roles.sql then clears the role's password."""
    import dataclasses

    psql = require_psql()

    def stored() -> bool:
        with psycopg.connect(stack_databases.server_url) as conn:
            row = conn.execute(
                "select rolpassword is not null from pg_authid where rolname = %s",
                (stack_databases.roles["litellm_dbless"],),
            ).fetchone()
        return bool(row and row[0])

    empty = dataclasses.replace(
        stack_databases, passwords={**stack_databases.passwords, "litellm_dbless": ""}
    )
    try:
        proc = apply_roles_sql(psql, stack_databases.server_url, empty)
        assert proc.returncode == 0, proc.stderr
        assert not stored()
    finally:
        assert apply_roles_sql(psql, stack_databases.server_url, stack_databases).returncode == 0
    assert stored()


def test_grafana_reads_marts_tables_the_benchmark_role_creates_later(stack_databases: StackDatabases) -> None:
    """dbt re-creates every mart on each build: default privileges must cover new tables."""
    with psycopg.connect(stack_databases.url("benchmark")) as conn:
        conn.execute("create table marts.hb_default_privileges_probe as select 1 as x")
        conn.execute("create schema if not exists raw")
        conn.execute("create table raw.hb_probe as select 1 as x")
    with psycopg.connect(stack_databases.url("grafana")) as conn:
        assert conn.execute("select x from marts.hb_default_privileges_probe").fetchall() == [(1,)]
    with (
        psycopg.connect(stack_databases.url("grafana")) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("select x from raw.hb_probe")
    with psycopg.connect(stack_databases.url("benchmark")) as conn:
        conn.execute("drop table marts.hb_default_privileges_probe")
        conn.execute("drop table raw.hb_probe")


def test_init_script_runs_roles_sql_with_the_container_environment(tmp_path: Path) -> None:
    """init.sh as the postgres image runs it, with psql replaced by a recorder (no server needed)."""
    bash = shutil.which("bash")
    assert bash
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "psql-args"
    (fake_bin / "psql").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    (fake_bin / "psql").chmod(0o755)

    env = {
        "PATH": f"{fake_bin}:/usr/bin:/bin",
        "POSTGRES_USER": "postgres",
        "BENCHMARK_DB_PASSWORD": "b-pw",
        "LITELLM_DB_PASSWORD": "l-pw",
        "LITELLM_READER_DB_PASSWORD": "r-pw",
        "GRAFANA_DB_PASSWORD": "g pw'",
        "HARNESS_BENCH_ROLES_SQL": str(REPO / "configs/postgres/roles.sql"),
    }
    proc = subprocess.run(
        [bash, str(REPO / "configs/postgres/init.sh")], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    args = record.read_text().splitlines()
    assert "grafana_password=g pw'" in args and "benchmark_password=b-pw" in args
    assert "g pw'" not in proc.stdout + proc.stderr, "passwords must not be echoed"
    missing = {k: v for k, v in env.items() if k != "GRAFANA_DB_PASSWORD"}
    proc = subprocess.run(
        [bash, str(REPO / "configs/postgres/init.sh")], env=missing, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "GRAFANA_DB_PASSWORD is not set" in proc.stderr


def test_dagster_instance_config_loads_against_postgres(
    make_database: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """configs/dagster/dagster.yaml as the Dagster containers load it: Postgres run, event and schedule
    storage (tables created on first use), the queued run coordinator limited to 2 runs."""
    from dagster import DagsterInstance

    url = urlsplit(make_database("dagster"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "configs/dagster/dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", url.hostname or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", url.path.lstrip("/"))
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        assert instance.get_runs() == []
    with psycopg.connect(url.geturl()) as conn:
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert {"runs", "event_logs", "jobs"} <= tables
