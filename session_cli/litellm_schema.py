"""LiteLLM's own database schema, built from the migrations LiteLLM ships in ``litellm-proxy-extras``.

Used wherever a LiteLLM-compatible ``"LiteLLM_SpendLogs"`` table is needed without LiteLLM's
Prisma engines: tests, the demo, and the database-less proxy mode. The table is byte-for-byte
the one a database-backed LiteLLM creates, so the ingestion reads all of them the same way.
"""

from __future__ import annotations

import re
from importlib.resources import files

import psycopg

SPEND_LOGS_TABLE = '"LiteLLM_SpendLogs"'

# LiteLLM builds a few indexes CONCURRENTLY, which cannot run inside the implicit transaction of
# a multi-statement string; on a fresh, empty table a plain build is equivalent.
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)


def migration_files() -> list[str]:
    root = files("litellm_proxy_extras") / "migrations"
    names = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
    return [(root / name / "migration.sql").read_text() for name in names]


def spend_logs_table_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass('public.\"LiteLLM_SpendLogs\"') is not null").fetchone()
    return bool(row and (row[0] if not isinstance(row, dict) else next(iter(row.values()))))


def apply_litellm_migrations(url: str) -> bool:
    """Create LiteLLM's tables in the database at ``url`` unless they exist; True if created."""
    with psycopg.connect(url, autocommit=True) as conn:
        if spend_logs_table_exists(conn):
            return False
        for sql in migration_files():
            conn.execute(_CONCURRENTLY.sub("", sql))
    return True
