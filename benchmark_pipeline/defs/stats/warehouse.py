"""Reading the session marts and replacing ``marts.fct_variant_comparison`` (psycopg 3)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from benchmark_pipeline.defs.stats.build import COLUMNS, SessionValues
from benchmark_pipeline.defs.stats.comparison import COMPARED_METRICS, Metric
from session_cli.errors import BenchmarkError

TABLE = "marts.fct_variant_comparison"
DDL = (Path(__file__).parent / "sql" / "fct_variant_comparison.sql").read_text()
RUN_HINT = "build the marts first: `benchmark pipeline run` (or materialize the dbt assets in Dagster)"


class StatsInputError(BenchmarkError):
    """The marts the comparison reads are missing or lack a column."""


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str] | None:
    """The table's (or view's) columns in order, or None when it does not exist."""
    name = f"{schema}.{table}"
    with conn.cursor(row_factory=tuple_row) as cur:
        (oid,) = cur.execute("select to_regclass(%s)::oid", (name,)).fetchone() or (None,)
        if oid is None:
            return None
        cur.execute(
            "select attname from pg_attribute where attrelid = %s and attnum > 0 and not attisdropped"
            " order by attnum",
            (oid,),
        )
        return [r[0] for r in cur.fetchall()]


def load_sessions(
    conn: psycopg.Connection, metrics: Sequence[Metric] = COMPARED_METRICS
) -> list[SessionValues]:
    """Every ``marts.fct_sessions`` row: experiment, variant, is_included and the compared metrics."""
    needed = ["experiment", "variant", "is_included", *(m.name for m in metrics)]
    present = _columns(conn, "marts", "fct_sessions")
    if present is None:
        raise StatsInputError("marts.fct_sessions does not exist: nothing to compare", hint=RUN_HINT)
    missing = [c for c in needed if c not in present]
    if missing:
        raise StatsInputError(
            f"marts.fct_sessions lacks column(s) {', '.join(missing)} required by the comparison",
            hint="rebuild the dbt marts (see the marts contract); " + RUN_HINT,
        )
    query = sql.SQL(
        "select experiment, variant, coalesce(is_included, false), {metrics} from marts.fct_sessions"
        " where experiment is not null and variant is not null"
    ).format(
        metrics=sql.SQL(", ").join(sql.SQL("{}::float8").format(sql.Identifier(m.name)) for m in metrics)
    )
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query)
        return [
            SessionValues(
                experiment=row[0],
                variant=row[1],
                is_included=bool(row[2]),
                values={m.name: row[3 + i] for i, m in enumerate(metrics)},
            )
            for row in cur
        ]


def load_baselines(conn: psycopg.Connection) -> dict[str, str]:
    """experiment -> baseline variant, from ``marts.dim_experiments`` (else ``registry.experiments``)."""
    for schema, table in (("marts", "dim_experiments"), ("registry", "experiments")):
        present = _columns(conn, schema, table)
        if present is None:
            continue
        name_col = "experiment" if "experiment" in present else "name"
        if name_col not in present or "baseline_variant" not in present:
            continue
        query = sql.SQL("select {}, baseline_variant from {}.{} where baseline_variant is not null").format(
            sql.Identifier(name_col), sql.Identifier(schema), sql.Identifier(table)
        )
        with conn.cursor(row_factory=tuple_row) as cur:
            return dict(cur.execute(query).fetchall())
    raise StatsInputError(
        "neither marts.dim_experiments nor registry.experiments exists: no experiment baselines",
        hint=RUN_HINT,
    )


def replace_comparison(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Replace every row of the comparison table in one transaction (created if missing).

    Readers see either the old or the new table, never a mix; concurrent writers serialise on
    the table lock. A table left by an older column layout is dropped and recreated.
    """
    with conn.transaction():
        conn.execute("create schema if not exists marts")
        present = _columns(conn, "marts", "fct_variant_comparison")
        if present is not None and tuple(present) != COLUMNS:
            conn.execute(f"drop table {TABLE}")
        conn.execute(DDL)
        conn.execute(f"lock table {TABLE} in exclusive mode")
        conn.execute(f"delete from {TABLE}")
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(
            sql.SQL(TABLE), sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
        )
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in COLUMNS])
