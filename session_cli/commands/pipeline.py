"""``benchmark pipeline``: run the Dagster pipeline in-process, without the UI.

Dagster is imported inside the command only: the rest of the CLI must start fast.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from session_cli.commands.common import ConfigsDirOpt
from session_cli.console import err, print_json, warn
from session_cli.errors import BenchmarkError, ConfigError

app = typer.Typer(help="Run the ingestion pipeline (Dagster) from the command line.", no_args_is_help=True)

DEFAULT_HOURS = 3


class PipelineRunFailed(BenchmarkError):
    """A pipeline run finished with failed steps or checks."""


def parse_when(value: str, option: str) -> datetime:
    """ISO-8601 date or time; a value without a zone is UTC."""
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {value!r} is not an ISO-8601 date or time",
            hint="for example 2026-11-24T09:00 or 2026-11-24T09:00:00+00:00 (no zone means UTC)",
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


@app.command("run")
def run_command(
    start: Annotated[
        str | None,
        typer.Option("--from", help="Window start, ISO-8601 (UTC unless a zone is given). Default: 3 h ago."),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Window end, ISO-8601. Default: now.")] = None,
    assets: Annotated[
        list[str] | None,
        typer.Option("--asset", help="Materialize only this asset key (repeatable). Default: raw+dbt+stats."),
    ] = None,
    configs_dir: ConfigsDirOpt = None,
) -> None:
    """Materialize the hourly partitions overlapping [--from, --to) in one in-process run.

    Progress goes to stderr; a JSON summary (run id, partitions, per-asset metadata, checks) to
    stdout. The run is recorded in $DAGSTER_HOME (default $BENCHMARK_HOME/dagster), so it shows in
    `make dev`'s UI. Exit status 1 when a step or a check failed.
    """
    if configs_dir is not None:  # the Prometheus query catalog is read from the configs directory
        os.environ["BENCHMARK_CONFIGS_DIR"] = str(configs_dir)
    now = datetime.now(UTC)
    window_end = parse_when(end, "--to") if end else now
    window_start = parse_when(start, "--from") if start else window_end - timedelta(hours=DEFAULT_HOURS)

    import warnings

    import dagster as dg  # heavy: only this command needs it

    # Dagster's beta/preview notices are for the code's authors, not for the operator's terminal
    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
    from benchmark_pipeline.run import (
        DEFAULT_SELECTION,
        RunEvent,
        WindowError,
        jsonable,
        partition_range,
        prometheus_reachable,
        run_window,
        without_prometheus,
    )
    from session_cli import settings

    try:
        first, last = partition_range(window_start, window_end)
    except WindowError as exc:
        raise ConfigError(
            str(exc), hint="pass --from/--to inside the partitions (UTC hours from 2025-01-01)"
        ) from None
    if assets:
        selection: Any = [dg.AssetKey.from_user_string(a) for a in assets]
    elif prometheus_reachable(settings.prometheus_url()):
        selection = DEFAULT_SELECTION
    else:
        selection = without_prometheus(DEFAULT_SELECTION, settings.database_url())
        warn(
            f"Prometheus at {settings.prometheus_url()} does not answer: raw_prometheus_series is skipped "
            "(live metrics and the Prometheus reconciliation get no new data); set PROMETHEUS_URL to include it"
        )
    err.print(f"pipeline run over {first} .. {last} (UTC hourly partitions)")

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=False
    ) as progress:
        tasks: dict[str, Any] = {}

        def show(event: RunEvent) -> None:
            step = event.step or "run"
            if event.kind == "step_start":
                tasks[step] = progress.add_task(f"[bold]{step}[/bold] running", total=None)
            elif event.kind == "log" and step in tasks:
                progress.update(
                    tasks[step], description=f"[bold]{step}[/bold] {_escape(event.message)[:100]}"
                )
            elif event.kind == "materialization":
                progress.console.print(f"  {event.message}: {_summary(event.metadata)}")
            elif event.kind == "check":
                colour = "green" if event.ok else "red"
                progress.console.print(f"  [{colour}]{_escape(event.message)}[/{colour}]")
            elif event.kind in ("step_success", "step_failure") and step in tasks:
                mark = "[green]done[/green]" if event.kind == "step_success" else "[red]failed[/red]"
                progress.update(tasks[step], description=f"[bold]{step}[/bold] {mark}", total=1, completed=1)
                if event.kind == "step_failure":
                    progress.console.print(f"  [red]{_escape(event.message)}[/red]")

        try:
            result = run_window(window_start, window_end, selection=selection, on_event=show)
        except WindowError as exc:
            raise ConfigError(str(exc)) from None
    print_json(
        {
            "run_id": result.run_id,
            "success": result.success,
            "partitions": {"first": result.first_partition, "last": result.last_partition},
            "assets": result.assets,
            "materializations": jsonable(result.materializations),
            "checks": result.checks,
            "failures": result.failures,
            "seconds": round(result.seconds, 3),
            "output_log": result.output_log,
        }
    )
    failed_checks = [
        name for name, c in result.checks.items() if not c["passed"] and c["severity"] == "ERROR"
    ]
    if not result.success or failed_checks:
        what = "; ".join(result.failures + [f"check {n} failed" for n in failed_checks])
        raise PipelineRunFailed(
            f"pipeline run {result.run_id} failed: {what}",
            hint=f"dbt's output is in {result.output_log}; step logs in the Dagster UI (make dev) under this run id",
        )
    err.print(f"[green]run {result.run_id} succeeded[/green] in {result.seconds:.1f} s")


_SUMMARY_KEYS = ("rows_fetched", "rows_inserted", "rows_updated", "rows_rejected", "rows_landed", "seconds")


def _summary(metadata: dict[str, Any]) -> str:
    shown = [f"{k}={metadata[k]}" for k in _SUMMARY_KEYS if k in metadata]
    return ", ".join(shown) if shown else f"{len(metadata)} metadata entries"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
