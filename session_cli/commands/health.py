"""``benchmark health``: is everything the workflow needs reachable? Exit 1 naming what is not."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer
from rich.table import Table

from session_cli.commands.common import ConfigsDirOpt, JsonOpt
from session_cli.console import err, out, print_json

app = typer.Typer(help="Check the database, migrations, LiteLLM and Prometheus.", invoke_without_command=True)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _http(name: str, url: str) -> Check:
    import httpx

    try:
        response = httpx.get(url, timeout=3.0, follow_redirects=True)
    except httpx.HTTPError as exc:
        return Check(name, False, f"{url}: {type(exc).__name__}")
    return Check(name, response.status_code == 200, f"{url}: HTTP {response.status_code}")


def run_checks() -> list[Check]:
    from session_cli import settings
    from session_cli.db import connect, redact_url
    from session_cli.errors import BenchmarkError

    checks: list[Check] = []
    try:
        url = settings.database_url()
        with connect(url) as conn:
            conn.execute("select 1")
        checks.append(Check("database", True, redact_url(url)))
    except BenchmarkError as exc:
        checks.append(Check("database", False, exc.message))
        url = None
    if url is not None:
        from session_cli.registry.migrate import current_revision, head_revision

        current, head = current_revision(url), head_revision()
        checks.append(
            Check(
                "migrations",
                current == head,
                f"at {current or 'none'}, head {head}"
                + ("" if current == head else ": run `benchmark config init-db`"),
            )
        )
    checks.append(_http("litellm", settings.litellm_base_url() + "/health/liveliness"))
    checks.append(_http("prometheus", settings.prometheus_url() + "/-/ready"))
    return checks


def _report(json_out: bool) -> None:
    checks = run_checks()
    failed = [c.name for c in checks if not c.ok]
    if json_out:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        table = Table(show_header=False, box=None)
        for c in checks:
            table.add_row(c.name, "[green]ok[/green]" if c.ok else "[red]FAIL[/red]", c.detail)
        out.print(table)
        if failed:
            err.print(f"[red]unhealthy:[/red] {', '.join(failed)}")
    if failed:
        raise typer.Exit(1)


@app.callback()
def health(ctx: typer.Context, configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Check the database, migrations, LiteLLM and Prometheus."""
    if ctx.invoked_subcommand is None:
        _report(json_out)


@app.command()
def check(configs_dir: ConfigsDirOpt = None, json_out: JsonOpt = False) -> None:
    """Same as `benchmark health`."""
    _report(json_out)
