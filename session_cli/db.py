"""Thin psycopg 3 helpers shared by the CLI commands (no SQLAlchemy on the hot path)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row

from session_cli.errors import DatabaseUnavailableError
from session_cli.settings import database_url


def redact_url(url: str) -> str:
    """Hide the password in a connection URL before it reaches a message."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    if info.get("password"):
        info["password"] = "***"
    host = info.get("host", "")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}"


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection with dict rows; commits on success, rolls back on error."""
    url = url or database_url()
    try:
        conn = psycopg.connect(url, autocommit=autocommit, row_factory=dict_row, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(
            f"cannot connect to the database {redact_url(url)}: {first}",
            hint="set BENCHMARK_DATABASE_URL, or unset it to use the embedded Postgres",
        ) from exc
    try:
        with conn:
            yield conn
    finally:
        conn.close()
