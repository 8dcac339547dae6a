"""Column-level metadata and row counts for each dbt materialization, read from the warehouse.

dagster-dbt's own ``fetch_column_metadata`` / ``fetch_row_counts`` address relations by the database
name baked into the manifest at parse time, which differs from the warehouse whenever the database
is not called ``benchmark`` (tests, a second warehouse). Schemas and table names are fixed by the
project (staging / intermediate / marts / seeds), so they are looked up in the connected database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
import psycopg

COLUMN_SCHEMA_KEY = "dagster/column_schema"
ROW_COUNT_KEY = "dagster/row_count"
TABLE_NAME_KEY = "dagster/table_name"


def relation_of(node: Mapping[str, Any]) -> tuple[str, str]:
    return node["schema"], node.get("alias") or node["name"]


def column_schema(
    conn: psycopg.Connection, schema: str, table: str, descriptions: Mapping[str, str]
) -> dg.TableSchema | None:
    rows = conn.execute(
        "select column_name, data_type, is_nullable from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    ).fetchall()
    if not rows:
        return None
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=data_type,
                description=descriptions.get(name),
                constraints=dg.TableColumnConstraints(nullable=is_nullable == "YES"),
            )
            for name, data_type, is_nullable in rows
        ]
    )


def row_count(conn: psycopg.Connection, schema: str, table: str) -> int:
    return conn.execute(
        psycopg.sql.SQL("select count(*) from {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
        )
    ).fetchone()[0]


def with_table_metadata(
    events: Iterable[Any], manifest: Mapping[str, Any], warehouse_url: str
) -> Iterator[Any]:
    """Pass the dbt event stream through, adding column schema (with the dbt column descriptions),
    row count (tables only: counting a view would run its query) and table name to materializations.
    A metadata lookup that fails never fails the run."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for event in events:
            if isinstance(event, dg.Output | dg.AssetMaterialization):
                event = _enrich(conn, event, manifest)
            yield event


def _enrich(conn: psycopg.Connection, event: Any, manifest: Mapping[str, Any]) -> Any:
    unique_id = event.metadata.get("unique_id")
    node = manifest.get("nodes", {}).get(getattr(unique_id, "text", unique_id)) if unique_id else None
    if not node:
        return event
    schema, table = relation_of(node)
    descriptions = {name: col.get("description") or "" for name, col in (node.get("columns") or {}).items()}
    extra: dict[str, Any] = {TABLE_NAME_KEY: f"{schema}.{table}"}
    try:
        found = column_schema(conn, schema, table, descriptions)
        if found is not None:
            extra[COLUMN_SCHEMA_KEY] = found
        if (node.get("config") or {}).get("materialized") != "view":
            extra[ROW_COUNT_KEY] = row_count(conn, schema, table)
    except psycopg.Error:
        return event
    return event.with_metadata({**event.metadata, **extra})
