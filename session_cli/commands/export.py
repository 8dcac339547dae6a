"""``benchmark export {requests,sessions,variants,comparison}``: marts to CSV, JSON or Parquet.

Reads marts only, streaming: CSV through ``COPY ... TO STDOUT`` (Postgres formats the values),
JSON as one ``row_to_json`` object per line inside a JSON array, Parquet in record batches from a
server-side cursor (pyarrow imported only then). Output goes to a temporary file renamed over
PATH at the end, so a failed export never leaves a half-written file. Columns that could hold a
secret or prompt/response content are never exported, whatever a mart contains.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from session_cli.commands.common import ConfigsDirOpt
from session_cli.commands.report import PIPELINE_HINT, MartsMissingError, require_table
from session_cli.console import status, warn
from session_cli.errors import BenchmarkError

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql as sql_t

app = typer.Typer(
    help="Export marts tables to CSV, JSON or Parquet (reads marts only).", no_args_is_help=True
)

# measured on a 1M-row fct_requests: parquet peak RSS 194 MB at 10k rows a batch, 465 MB at 50k, same speed
DEFAULT_BATCH_ROWS = 10_000
# never exported: secrets (keys and their hashes) and prompt/response content
DENIED_COLUMNS = frozenset(
    {"api_key", "key_hash", "hashed_token", "token", "messages", "response", "proxy_server_request"}
)


class Format(StrEnum):
    csv = "csv"
    json = "json"
    parquet = "parquet"


@dataclass(frozen=True)
class Source:
    table: str  # in schema marts
    order_by: tuple[str, ...]  # deterministic row order (columns that exist are used)


SOURCES: dict[str, Source] = {
    "requests": Source("fct_requests", ("started_at", "request_id")),
    "sessions": Source("fct_sessions", ("started_at", "session_id")),
    "variants": Source("fct_variant_summary", ("experiment", "variant_position", "variant")),
    "comparison": Source("fct_variant_comparison", ("experiment", "variant", "metric")),
}


class ExportError(BenchmarkError):
    """The export cannot be written as asked."""


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(): 'timestamp with time zone', 'numeric(12,6)', 'text[]', ...


def columns_of(conn: psycopg.Connection, qualified: str) -> list[Column]:
    rows = conn.execute(
        "select attname, format_type(atttypid, atttypmod) as pg_type from pg_attribute"
        " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
        (qualified,),
    ).fetchall()
    return [Column(r["attname"], r["pg_type"]) for r in rows]


def _csv_expr(col: Column) -> sql_t.Composable:
    from psycopg import sql

    ident = sql.Identifier(col.name)
    if col.pg_type == "timestamp with time zone":
        return sql.SQL("""to_char({} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""").format(ident)
    if col.pg_type == "boolean":
        return sql.SQL("{}::text").format(ident)  # 'true'/'false' rather than COPY's 't'/'f'
    if col.pg_type.endswith("[]"):
        return sql.SQL("to_json({})::text").format(ident)
    return ident


def _parquet_expr(col: Column) -> sql_t.Composable:
    from psycopg import sql

    ident = sql.Identifier(col.name)
    base = col.pg_type.split("(")[0]
    if base == "numeric":
        return sql.SQL("{}::float8").format(ident)
    if col.pg_type.endswith("[]"):
        return sql.SQL("to_json({})::text").format(ident)
    if base in _ARROW_NATIVE:
        return ident
    return sql.SQL("{}::text").format(ident)  # uuid, json(b), interval, anything else: text


_ARROW_NATIVE = frozenset(
    {
        "boolean",
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "text",
        "character varying",
        "timestamp with time zone",
        "timestamp without time zone",
        "date",
    }
)


def _arrow_type(col: Column) -> Any:
    import pyarrow as pa

    base = col.pg_type.split("(")[0]
    return {
        "boolean": pa.bool_(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double precision": pa.float64(),
        "numeric": pa.float64(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"),
        "date": pa.date32(),
    }.get(base if not col.pg_type.endswith("[]") else "", pa.string())


def build_select(
    source: Source, columns: list[Column], experiment: str | None, expr: Callable[[Column], sql_t.Composable]
) -> sql_t.Composed:
    from psycopg import sql

    names = {c.name for c in columns}
    order = [c for c in source.order_by if c in names]
    query = sql.SQL("select {cols} from {table}").format(
        cols=sql.SQL(", ").join(sql.SQL("{} as {}").format(expr(c), sql.Identifier(c.name)) for c in columns),
        table=sql.Identifier("marts", source.table),
    )
    if experiment is not None:
        query += sql.SQL(" where experiment = {}").format(sql.Literal(experiment))
    if order:
        query += sql.SQL(" order by {}").format(sql.SQL(", ").join(sql.Identifier(c) for c in order))
    return query


@contextmanager
def _target(output: Path, binary: bool) -> Iterator[IO[Any]]:
    """The output stream: stdout for '-', else a temporary file renamed over ``output`` on success."""
    if str(output) == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8") as fh:
            yield fh
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _write_csv(conn: psycopg.Connection, query: sql_t.Composed, output: Path) -> int:
    from psycopg import sql

    copy_sql = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(query)
    with _target(output, binary=True) as fh, conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            for chunk in copy:
                fh.write(chunk)
        return max(cur.rowcount, 0)  # from the COPY command tag


def _write_json(conn: psycopg.Connection, query: sql_t.Composed, output: Path, batch_rows: int) -> int:
    from psycopg import sql
    from psycopg.rows import tuple_row

    count = 0
    wrapped = sql.SQL("select row_to_json(t)::text from ({}) t").format(query)
    with _target(output, binary=False) as fh, conn.cursor(name="export_json", row_factory=tuple_row) as cur:
        cur.itersize = batch_rows
        cur.execute(wrapped)
        fh.write("[")
        while rows := cur.fetchmany(batch_rows):
            for (doc,) in rows:
                fh.write(("\n" if count == 0 else ",\n") + doc)
                count += 1
        fh.write("\n]\n")
    return count


def _write_parquet(
    conn: psycopg.Connection, query: sql_t.Composed, columns: list[Column], output: Path, batch_rows: int
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from psycopg.rows import tuple_row

    if str(output) == "-":
        raise ExportError("parquet cannot be written to stdout ('-')", hint="give --output a file path")
    schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns])
    count = 0
    with _target(output, binary=True) as fh, conn.cursor(name="export_parquet", row_factory=tuple_row) as cur:
        cur.itersize = batch_rows
        cur.execute(query)
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            while rows := cur.fetchmany(batch_rows):
                by_column = zip(*rows, strict=True)
                arrays = [pa.array(values, type=f.type) for values, f in zip(by_column, schema, strict=True)]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                count += len(rows)
    return count


def export_table(
    what: str,
    fmt: Format,
    output: Path,
    *,
    experiment: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    database_url: str | None = None,
) -> int:
    """Export one mart; returns the number of rows written."""
    import psycopg

    from session_cli.db import connect

    source = SOURCES[what]
    qualified = f"marts.{source.table}"
    with connect(database_url) as conn:
        require_table(conn, qualified)
        all_columns = columns_of(conn, qualified)
        columns = [c for c in all_columns if c.name not in DENIED_COLUMNS]
        if experiment is not None and "experiment" not in {c.name for c in columns}:
            raise ExportError(f"{qualified} has no experiment column: --experiment cannot filter it")
        conn.execute("set local timezone = 'UTC'")
        try:
            if fmt is Format.csv:
                return _write_csv(conn, build_select(source, columns, experiment, _csv_expr), output)
            if fmt is Format.json:
                query = build_select(source, columns, experiment, _ident)
                return _write_json(conn, query, output, batch_rows)
            query = build_select(source, columns, experiment, _parquet_expr)
            return _write_parquet(conn, query, columns, output, batch_rows)
        except psycopg.errors.UndefinedTable as exc:  # dropped while we read
            raise MartsMissingError(f"{qualified} disappeared during the export", hint=PIPELINE_HINT) from exc
        except OSError as exc:
            raise ExportError(f"cannot write {output}: {exc.strerror or exc}") from exc


def _ident(col: Column) -> sql_t.Composable:
    from psycopg import sql

    return sql.Identifier(col.name)


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)]
OutputOpt = Annotated[
    Path, typer.Option("--output", "-o", help="File to write ('-' = stdout for csv/json).", dir_okay=False)
]
ExperimentOpt = Annotated[
    str | None, typer.Option("--experiment", "-e", help="Only rows of this experiment.", show_default=False)
]
BatchOpt = Annotated[int, typer.Option("--batch-rows", min=1, hidden=True, help="Rows fetched per batch.")]


def _run(what: str, fmt: Format, output: Path, experiment: str | None, batch_rows: int) -> None:
    started = time.perf_counter()
    count = export_table(what, fmt, output, experiment=experiment, batch_rows=batch_rows)
    table = f"marts.{SOURCES[what].table}"
    if count == 0:
        warn(f"no rows in {table}" + (f" for experiment {experiment!r}" if experiment else ""))
    where = "stdout" if str(output) == "-" else str(output)
    status(f"wrote {count:,} rows of {table} to {where} ({fmt.value}, {time.perf_counter() - started:.2f} s)")


@app.command("requests")
def requests(
    output: OutputOpt,
    fmt: FormatOpt = Format.csv,
    experiment: ExperimentOpt = None,
    batch_rows: BatchOpt = DEFAULT_BATCH_ROWS,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """marts.fct_requests: one row per LiteLLM request (attributed or not)."""
    _run("requests", fmt, output, experiment, batch_rows)


@app.command("sessions")
def sessions(
    output: OutputOpt,
    fmt: FormatOpt = Format.csv,
    experiment: ExperimentOpt = None,
    batch_rows: BatchOpt = DEFAULT_BATCH_ROWS,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """marts.fct_sessions: one row per registry session."""
    _run("sessions", fmt, output, experiment, batch_rows)


@app.command("variants")
def variants(
    output: OutputOpt,
    fmt: FormatOpt = Format.csv,
    experiment: ExperimentOpt = None,
    batch_rows: BatchOpt = DEFAULT_BATCH_ROWS,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """marts.fct_variant_summary: one row per experiment x variant."""
    _run("variants", fmt, output, experiment, batch_rows)


@app.command("comparison")
def comparison(
    output: OutputOpt,
    fmt: FormatOpt = Format.csv,
    experiment: ExperimentOpt = None,
    batch_rows: BatchOpt = DEFAULT_BATCH_ROWS,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """marts.fct_variant_comparison: one row per experiment x variant x metric."""
    _run("comparison", fmt, output, experiment, batch_rows)
