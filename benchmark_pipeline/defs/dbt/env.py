"""The dbt connection environment (``DBT_PG_*``) derived from a warehouse URL.

``dbt_project/profiles.yml`` reads ``DBT_PG_HOST/PORT/USER/PASSWORD/DBNAME``; Dagster, the CLI and the
tests derive them from the one warehouse URL (``BENCHMARK_DATABASE_URL``, else ``DATABASE_URL``, else
the embedded Postgres) so dbt always builds into the database the rest of the system uses.

By hand: ``eval "$(uv run python -m benchmark_pipeline.defs.dbt.env)"`` exports them for the current
warehouse (the password is exported too: do not paste the output anywhere).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg

from session_cli.errors import ConfigError

DBT_ENV_KEYS = ("DBT_PG_HOST", "DBT_PG_PORT", "DBT_PG_USER", "DBT_PG_PASSWORD", "DBT_PG_DBNAME")


def dbt_env_for_url(url: str) -> dict[str, str]:
    """``DBT_PG_*`` for a libpq URL or conninfo string (a Unix-socket host stays a directory path)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            "the warehouse URL cannot be parsed for dbt (BENCHMARK_DATABASE_URL)",
            hint="use postgresql://user[:password]@host:port/dbname",
        ) from exc
    dbname = info.get("dbname")
    if not dbname:
        raise ConfigError(
            "the warehouse URL names no database (BENCHMARK_DATABASE_URL)",
            hint="end the URL with /<dbname>, e.g. postgresql://postgres@127.0.0.1:5432/benchmark",
        )
    host = str(info.get("host") or "127.0.0.1").split(",")[0]
    port = str(info.get("port") or "5432").split(",")[0]
    return {
        "DBT_PG_HOST": host,
        "DBT_PG_PORT": port,
        "DBT_PG_USER": str(info.get("user") or os.environ.get("PGUSER") or "postgres"),
        "DBT_PG_PASSWORD": str(info.get("password") or os.environ.get("PGPASSWORD") or ""),
        "DBT_PG_DBNAME": str(dbname),
    }


@contextmanager
def dbt_environment(url: str) -> Iterator[Mapping[str, str]]:
    """Set ``DBT_PG_*`` in ``os.environ`` for the duration (dagster-dbt passes the process environment
    to dbt and renders the profile in-process for metadata queries), then restore the previous values."""
    values = dbt_env_for_url(url)
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for key, previous in saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous


def main() -> None:
    from session_cli import settings

    for key, value in dbt_env_for_url(settings.database_url()).items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
