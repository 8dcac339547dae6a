"""``benchmark demo``: the whole product end to end on simulated traffic, in a couple of minutes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from session_cli.commands.common import ConfigsDirOpt, JsonOpt, load
from session_cli.console import err, out, print_json

app = typer.Typer(help="Run the whole pipeline on simulated traffic (embedded Postgres by default).")


@app.callback(invoke_without_command=True)
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated traffic (same seed, same numbers).")] = 1,
    sessions: Annotated[
        int,
        typer.Option(
            "--sessions", min=3, help="Valid sessions per variant (one excluded session each on top)."
        ),
    ] = 8,
    fresh: Annotated[
        bool, typer.Option(help="Delete the embedded Postgres data and Dagster history first.")
    ] = False,
    proxy: Annotated[
        bool,
        typer.Option(
            "--proxy",
            help="Drive the sessions with scripted clients through a real LiteLLM proxy (database-less) and "
            "a fake upstream instead of simulating their rows (needs the proxy extra; about 2-3 minutes).",
        ),
    ] = False,
    configs_dir: ConfigsDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create simulated sessions for the shipped demo experiment, land their LiteLLM spend logs, build the
    marts and the statistics in-process, and print the experiment report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from session_cli.commands.report import demo_notice, load_report, render
    from session_cli.db import connect, redact_url
    from session_cli.demo import run as demo_run
    from session_cli.demo import scenario

    cs = load(configs_dir)
    started = datetime.now(UTC)
    if proxy:
        from session_cli.demo.proxy import generate_via_proxy, require_proxy_extra

        require_proxy_extra()  # before any database work: one line with the install hint
        err.print(
            "[bold]harness-bench demo --proxy[/bold]: scripted clients, real LiteLLM proxy, fake upstream"
        )
    else:
        err.print("[bold]harness-bench demo[/bold]: simulated traffic, real pipeline")
    result = demo_run.prepare(cs, fresh)
    err.print(
        f"database: {redact_url(result.warehouse_url)} (LiteLLM table in {redact_url(result.litellm_url)})"
    )
    columns = (TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        planned = len(scenario.plan(sessions))
        if proxy:
            servers = progress.add_task("fake provider + LiteLLM proxy", total=1)
            task = progress.add_task("sessions through the proxy", total=planned)
            generate_via_proxy(
                cs,
                result,
                seed=seed,
                sessions_per_variant=sessions,
                configs_dir=configs_dir,
                progress=lambda done, total: progress.update(task, completed=done),
                on_stack=lambda stack: progress.update(servers, completed=1),
            )
        else:
            task = progress.add_task("sessions + simulated traffic", total=planned)
            demo_run.generate(
                cs,
                result,
                seed=seed,
                sessions_per_variant=sessions,
                now=started,
                progress=lambda done, total: progress.update(task, completed=done),
            )
        labels = {
            "landing": "landing (raw_litellm_spend_logs)",
            "dbt": "dbt models and seeds",
            "statistics": "statistics (fct_variant_comparison)",
        }
        stage_tasks: dict[str, int] = {}

        def on_stage(stage: str, done: int, total: int) -> None:
            if stage not in stage_tasks:
                stage_tasks[stage] = progress.add_task(labels[stage], total=total)
            progress.update(stage_tasks[stage], completed=done, total=total)

        demo_run.materialize(result, on_stage)
    with connect(result.warehouse_url) as conn:
        report = load_report(conn, scenario.EXPERIMENT)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    if json_out:
        from session_cli.commands.report import _jsonable

        print_json(
            _jsonable(
                {
                    "report": {**report, "demo_notice": demo_notice(report)},
                    "seed": seed,
                    "mode": "proxy" if proxy else "simulated",
                    "sessions": len(result.sessions),
                    "requests": result.requests,
                    "run_id": result.run_id,
                    "seconds": round(elapsed, 1),
                }
            )
        )
        return
    render(report)
    if proxy:
        out.print(
            f"\n[bold yellow]The model answers are simulated.[/bold yellow] {len(result.sessions)} sessions sent "
            f"{result.requests} requests from scripted clients through a real LiteLLM proxy (database-less, "
            "the project's plugin writing the spend logs) to a local fake provider; landing, dbt marts and "
            f"statistics are the real pipeline. Done in {elapsed:.0f} s."
        )
    else:
        out.print(
            f"\n[bold yellow]This data is simulated.[/bold yellow] {len(result.sessions)} sessions and "
            f"{result.requests} requests were generated by `benchmark demo --seed {seed}` in LiteLLM's spend-log "
            "shape; everything after that (landing, dbt marts, statistics) is the real pipeline. "
            f"Done in {elapsed:.0f} s."
        )
    out.print(
        "\nNext:\n"
        f"  make dev                            Dagster UI on the same data: http://127.0.0.1:3000 (run {result.run_id})\n"
        "  uv run benchmark report experiment " + scenario.EXPERIMENT + "\n"
        "  uv run benchmark export sessions --format csv --output sessions.csv\n"
        "  uv run benchmark db stop             stop the embedded Postgres (data is kept; --fresh starts over)\n"
        "  cp .env.example .env && make up      the real stack: LiteLLM, Postgres, Prometheus, Grafana, Dagster\n"
        "  docs/operator-workflow.md            benchmark real harness sessions"
    )
