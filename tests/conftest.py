"""Shared fixtures: each test session creates its own Postgres databases and drops them after.

Server: ``BENCHMARK_TEST_DATABASE_URL`` if set; else ``postgresql://postgres@127.0.0.1:5432/postgres``
(or ``BENCHMARK_TEST_SERVER_PROBE_URL``) when it answers; else a throwaway embedded Postgres
(:mod:`session_cli.embedded`) in a temp directory, deleted at session end, so the suite needs no
database server installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS_DIR = REPO_ROOT / "configs"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Run from a shell's background job, pytest starts with SIGINT ignored; a test that materializes
# Dagster assets in the main thread then maps SIGTERM to that (dagster._utils.interrupts), and every
# server a later test starts and stops with SIGTERM would inherit an ignored SIGTERM.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _with_dbname(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (URL form: dbt, Grafana and docs use it)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A maintenance connection URL for the test server (databases are created on it)."""
    explicit = os.environ.get("BENCHMARK_TEST_DATABASE_URL")
    if explicit:  # an explicitly named server must answer: no silent fallback
        with psycopg.connect(explicit, connect_timeout=5, autocommit=True) as conn:
            conn.execute("select 1")
        yield explicit
        return
    probe = os.environ.get("BENCHMARK_TEST_SERVER_PROBE_URL") or DEFAULT_SERVER_URL
    if _reachable(probe):
        yield probe
        return
    import tempfile

    from session_cli import embedded

    home = Path(tempfile.mkdtemp(prefix="hb-test-pg-"))
    try:
        yield embedded.ensure_running(home, port=0, durable=False).database_url("postgres")
    finally:
        embedded.reset(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: ``make_database("hint")`` creates a fresh database and returns its URL."""
    created: list[str] = []

    def make(hint: str) -> str:
        name = f"hb_test_{hint}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_dbname(pg_server_url, name)

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def registry_db(make_database: Callable[[str], str]) -> str:
    """A database migrated to the registry head (shared by the session; tests use unique names)."""
    from session_cli.registry.migrate import upgrade_to_head

    url = make_database("registry")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def litellm_db(make_database: Callable[[str], str]) -> str:
    """A database holding LiteLLM's real tables, built from litellm-proxy-extras migrations."""
    from session_cli.litellm_schema import apply_litellm_migrations

    url = make_database("litellm")
    apply_litellm_migrations(url)
    return url


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, registry_db: str) -> Path:
    """Environment for CLI invocations: the session registry db, a private BENCHMARK_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", registry_db)
    monkeypatch.setenv("BENCHMARK_HOME", str(home))
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(CONFIGS_DIR))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return home
