"""``benchmark db``: start, stop, status, url and reset of the embedded Postgres.

The embedded server is the database whenever neither ``BENCHMARK_DATABASE_URL`` nor
``DATABASE_URL`` is set; these commands manage it either way and say when a configured URL
means the CLI is not using it.
"""

from __future__ import annotations

import os
import re

import typer

from session_cli import embedded, settings
from session_cli.commands.common import ConfigsDirOpt
from session_cli.console import err, out, print_json, warn
from session_cli.errors import BenchmarkError

app = typer.Typer(
    help="The embedded Postgres under $BENCHMARK_HOME/postgres (used when no database URL is set).",
    no_args_is_help=True,
)

_DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


def _warn_if_overridden() -> None:
    if settings.configured_database_url():
        name = "BENCHMARK_DATABASE_URL" if os.environ.get("BENCHMARK_DATABASE_URL") else "DATABASE_URL"
        warn(f"{name} is set, so the CLI uses that database, not this embedded server")


@app.command()
def start(
    json_output: bool = typer.Option(False, "--json", help="Print the server as JSON on stdout."),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Start the embedded Postgres (or find it running) and create the benchmark and litellm databases."""
    server = embedded.ensure_running()
    if json_output:
        print_json(server.as_dict())
    verb = "started" if server.started else "already running"
    err.print(
        f"embedded Postgres {verb}: {embedded.HOST}:{server.port} (pid {server.pid}, data {server.pgdata})"
    )
    _warn_if_overridden()


@app.command()
def stop(configs_dir: ConfigsDirOpt = None) -> None:
    """Stop the embedded Postgres; returns once no postgres process of it is left."""
    pid = embedded.stop()
    if pid is None:
        err.print("embedded Postgres is not running")
    else:
        err.print(f"embedded Postgres stopped (pid {pid})")


@app.command()
def status(
    json_output: bool = typer.Option(False, "--json", help="Print the status as JSON on stdout."),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Whether the embedded Postgres runs, on which port, with which data directory. Never starts it."""
    info = embedded.status()
    data = info.as_dict()
    data["used_by_cli"] = settings.configured_database_url() is None
    if json_output:
        print_json(data)
        return
    state = f"running (pid {info.pid})" if info.running else "stopped"
    if not info.initialized:
        state = "not initialized (created on first use)"
    rows = [
        ("state", state),
        ("address", f"{embedded.HOST}:{info.port}" if info.port else "-"),
        ("data", str(info.pgdata)),
        ("log", str(info.log_file)),
        ("started at", data["started_at"] or "-"),
        ("used by the CLI", "yes" if data["used_by_cli"] else "no (a database URL is set)"),
    ]
    for key, value in rows:
        out.print(f"{key:<16} {value}")


@app.command()
def url(
    database: str = typer.Option(
        "benchmark", "--database", "-d", help="Database name: benchmark (registry, warehouse) or litellm."
    ),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Print the embedded server's connection URL (starting it if needed), e.g. for LiteLLM's DATABASE_URL."""
    if not _DBNAME.match(database):
        raise BenchmarkError(
            f"--database {database!r}: not a plain database name", hint="use benchmark or litellm"
        )
    server = embedded.ensure_running()
    out.print(server.database_url(database))
    if database not in embedded.DATABASES:
        warn(f"database {database!r} is not created by the embedded server (it creates benchmark, litellm)")
    _warn_if_overridden()


@app.command()
def reset(
    yes: bool = typer.Option(False, "--yes", help="Confirm: the data cannot be recovered."),
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Stop the embedded Postgres and delete its data directory (all registry and warehouse data)."""
    lay = embedded.layout()
    if not yes:
        raise BenchmarkError(
            f"reset deletes {lay.root} and every database in it", hint="repeat with --yes to confirm"
        )
    embedded.reset()
    err.print(f"embedded Postgres reset: {lay.root} deleted")
