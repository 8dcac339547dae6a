"""Alembic, driven programmatically on a psycopg 3 connection (imported only by init-db and health)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"


def _engine(url: str):
    # psycopg parses both URLs and key=value DSNs; SQLAlchemy only drives the connection it makes
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool)


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            has_schema = conn.execute(
                text("select 1 from information_schema.schemata where schema_name = 'registry'")
            ).scalar()
            if not has_schema:
                return None
            ctx = MigrationContext.configure(conn, opts={"version_table_schema": "registry"})
            return ctx.get_current_revision()
    finally:
        engine.dispose()


def upgrade_to_head(url: str) -> str:
    """Create schema ``registry`` if needed and migrate to head; returns the head revision."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create schema if not exists registry"))
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    return head_revision()
