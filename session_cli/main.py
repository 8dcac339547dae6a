"""The ``benchmark`` command.

Each command group lives in ``session_cli/commands/<group>.py`` as a ``typer.Typer`` named ``app``.
Nothing here (or in a command module's top level) may import dagster, dbt, alembic, numpy or
scipy: ``benchmark --help`` and ``session env`` must start fast. Heavy imports go inside the
command functions that need them.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

import click
import typer
from rich.markup import escape

from session_cli.commands import config as config_cmd
from session_cli.commands import db as db_cmd
from session_cli.commands import demo as demo_cmd
from session_cli.commands import export as export_cmd
from session_cli.commands import health as health_cmd
from session_cli.commands import pipeline as pipeline_cmd
from session_cli.commands import proxy as proxy_cmd
from session_cli.commands import report as report_cmd
from session_cli.commands import session as session_cmd
from session_cli.console import err
from session_cli.errors import BenchmarkError

app = typer.Typer(
    name="benchmark",
    help=(
        "harness-bench: benchmark coding-agent harnesses, providers and models through one LiteLLM proxy. "
        "Add --verbose anywhere for a traceback on errors."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(session_cmd.app, name="session")
app.add_typer(health_cmd.app, name="health")
app.add_typer(report_cmd.app, name="report")
app.add_typer(export_cmd.app, name="export")
app.add_typer(pipeline_cmd.app, name="pipeline")
app.add_typer(proxy_cmd.app, name="proxy")
app.add_typer(demo_cmd.app, name="demo")


def _verbose(argv: list[str]) -> bool:
    return "--verbose" in argv or os.environ.get("BENCHMARK_VERBOSE") == "1"


def main(argv: list[str]) -> int:
    """Run the CLI on ``argv``; returns the exit code. BenchmarkError becomes one line plus a hint."""
    verbose = _verbose(argv)
    argv = [a for a in argv if a != "--verbose"]
    try:
        code = app(args=argv, prog_name="benchmark", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err.print("aborted")
        return 1
    except BenchmarkError as exc:
        if verbose:
            traceback.print_exc()
        err.print(f"[bold red]error:[/bold red] {escape(exc.message)}")
        if exc.hint:
            err.print(f"[dim]hint:[/dim] {escape(exc.hint)}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # a bug or an unforeseen environment problem: still one line
        if verbose:
            traceback.print_exc()
        err.print(f"[bold red]error:[/bold red] unexpected {type(exc).__name__}: {escape(str(exc))}")
        if not verbose:
            err.print("[dim]hint:[/dim] run again with --verbose for the traceback")
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    # An ignored SIGTERM is inherited by every process we start: the servers `benchmark` stops with
    # SIGTERM (LiteLLM, the fake provider, Postgres) and the `tail` processes of Dagster's compute-log
    # capture would outlive us holding our stdout. A parent can pass it on without meaning to:
    # Dagster maps SIGTERM to SIGINT's handler, which is SIG_IGN in a shell's background job.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
